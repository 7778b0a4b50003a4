"""Experiment 2: uniform error against expert size at a fixed number of experts.

Thin script over ``moe_approx.reproduce.exp02_error_vs_expert_size``; ``moe-approx reproduce --only 2`` runs the same code:

    python experiments/exp02_error_vs_expert_size.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp02_error_vs_expert_size")
