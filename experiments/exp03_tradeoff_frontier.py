"""Experiment 3: the trade-off frontier at fixed ε, experts L against active parameters.

Thin script over ``moe_approx.reproduce.exp03_tradeoff_frontier``; ``moe-approx reproduce --only 3`` runs the same code:

    python experiments/exp03_tradeoff_frontier.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp03_tradeoff_frontier")
