"""Experiment 11: trained MoMLPs against one MLP on digits or your own .npz (classification).

Thin script over ``moe_approx.reproduce.exp11_classification``; ``moe-approx reproduce --only 11`` runs the same code:

    python experiments/exp11_classification.py --size quick --out results/quick --data my_features.npz --pca 16
"""

from moe_approx.reproduce.exp11_classification import main

if __name__ == "__main__":
    main()
