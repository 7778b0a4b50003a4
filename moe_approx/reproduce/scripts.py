"""Command line of one experiment: what the thin scripts of a source checkout's ``experiments/`` run."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ._common import SIZES
from .runner import EXPERIMENTS, run


def main(name: str, argv=None) -> list:
    """Command line of one experiment module ``name`` (``--size``, ``--out``, ``--force``): what the
    scripts in ``experiments/`` run; returns the written paths."""
    if name not in EXPERIMENTS.values():
        raise ValueError(f"name must be one of {sorted(EXPERIMENTS.values())}, got {name!r}")
    parser = argparse.ArgumentParser(prog=f"{name}.py", description=importlib.import_module(f"moe_approx.reproduce.{name}").__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="quick", help="problem sizes (default: quick)")
    parser.add_argument("--out", type=Path, default=Path("results") / "quick", help="output folder (default: results/quick)")
    parser.add_argument("--force", action="store_true", help="recompute even if a complete result exists")
    args = parser.parse_args(argv)
    number = next(k for k, v in EXPERIMENTS.items() if v == name)
    paths = run(args.out, size=args.size, only=[number], force=args.force)[number]
    for p in paths:
        print(p)
    return paths
