"""Experiment 5: VC-dimension bounds and sample complexity (docs/theory.md §7).

Thin script over ``moe_approx.reproduce.exp05_vc_dimension``; ``moe-approx reproduce --only 5`` runs the same code:

    python experiments/exp05_vc_dimension.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp05_vc_dimension")
