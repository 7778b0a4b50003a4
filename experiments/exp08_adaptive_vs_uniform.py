"""Experiment 8: adaptive dyadic against uniform partitions on the cusp |x₁ − 1/3|^(1/2).

Thin script over ``moe_approx.reproduce.exp08_adaptive_vs_uniform``; ``moe-approx reproduce --only 8`` runs the same code:

    python experiments/exp08_adaptive_vs_uniform.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp08_adaptive_vs_uniform")
