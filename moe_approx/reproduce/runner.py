"""Run the reproduction experiments: ``moe-approx reproduce`` calls :func:`run`."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from tqdm import tqdm

EXPERIMENTS = {
    1: "exp01_error_vs_experts",
    2: "exp02_error_vs_expert_size",
    3: "exp03_tradeoff_frontier",
    4: "exp04_params_vs_eps",
    5: "exp05_vc_dimension",
    6: "exp06_memory",
    7: "exp07_yarotsky_square",
    8: "exp08_adaptive_vs_uniform",
    9: "exp09_optimal_rate",
    10: "exp10_trained_regression",
    11: "exp11_classification",
    12: "exp12_vector_target",
}


def run(out, size="quick", only=None, force=False) -> dict:
    """Run the selected experiments (all by default) at ``size``; return {number: written paths}."""
    chosen = sorted(only or EXPERIMENTS)
    unknown = set(chosen) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f"unknown experiment number(s) {sorted(unknown)}; available: {sorted(EXPERIMENTS)}")
    out = Path(out)
    written = {}
    for number in tqdm(chosen, desc="experiments", unit="exp"):
        start = time.perf_counter()
        module = importlib.import_module(f"{__package__}.{EXPERIMENTS[number]}")
        written[number] = module.run(out, size=size, force=force)
        tqdm.write(f"experiment {number} ({EXPERIMENTS[number]}): {time.perf_counter() - start:.1f} s")
    return written
