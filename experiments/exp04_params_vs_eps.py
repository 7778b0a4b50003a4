"""Experiment 4: active and total parameters against ε for several trade-off values r.

Thin script over ``moe_approx.reproduce.exp04_params_vs_eps``; ``moe-approx reproduce --only 4`` runs the same code:

    python experiments/exp04_params_vs_eps.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp04_params_vs_eps")
