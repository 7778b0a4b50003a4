"""Experiment 10: trained MoMLPs against one trained MLP and the constructed mixture (regression).

Thin script over ``moe_approx.reproduce.exp10_trained_regression``; ``moe-approx reproduce --only 10`` runs the same code:

    python experiments/exp10_trained_regression.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp10_trained_regression")
