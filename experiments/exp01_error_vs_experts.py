"""Experiment 1: uniform error against number of experts at fixed expert size.

Thin script over ``moe_approx.reproduce.exp01_error_vs_experts``; ``moe-approx reproduce --only 1`` runs the same code:

    python experiments/exp01_error_vs_experts.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp01_error_vs_experts")
