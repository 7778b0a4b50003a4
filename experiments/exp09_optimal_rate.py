"""Experiment 9: error of one optimal-rate expert against its parameters, up to float64's limit and past it.

Thin script over ``moe_approx.reproduce.exp09_optimal_rate``; ``moe-approx reproduce --only 9`` runs the same code:

    python experiments/exp09_optimal_rate.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp09_optimal_rate")
