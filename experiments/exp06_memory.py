"""Experiment 6: bytes loaded per input against total bytes (the paper's VRAM argument).

Thin script over ``moe_approx.reproduce.exp06_memory``; ``moe-approx reproduce --only 6`` runs the same code:

    python experiments/exp06_memory.py --size quick --out results/quick
"""

from moe_approx.reproduce.scripts import main

if __name__ == "__main__":
    main("exp06_memory")
