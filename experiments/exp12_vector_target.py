"""Experiment 12: the certified rate curve of a vector target against its scalar components.

Thin script over ``moe_approx.reproduce.exp12_vector_target``; ``moe-approx reproduce --only 12`` runs the same code:

    python experiments/exp12_vector_target.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp12_vector_target")
