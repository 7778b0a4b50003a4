"""Experiment 7: Yarotsky's sawtooth square f_m, uniform error against depth m.

Thin script over ``moe_approx.reproduce.exp07_yarotsky_square``; ``moe-approx reproduce --only 7`` runs the same code:

    python experiments/exp07_yarotsky_square.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp07_yarotsky_square")
