"""The ``moe-approx`` command (DESIGN.md): reproduce, approximate, rates, targets."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path


def _experiments_runner():
    """The runner of the experiments shipped in the package (``moe_approx.reproduce``)."""
    return importlib.import_module("moe_approx.reproduce.runner")


def _reproduce(args) -> int:
    runner = _experiments_runner()
    size = "full" if args.full else ("tiny" if args.tiny else "quick")
    start = time.perf_counter()
    written = runner.run(args.out, size=size, only=args.only, force=args.force)
    print(f"reproduced {len(written)} experiment(s) at size {size!r} in {time.perf_counter() - start:.1f} s -> {args.out}")
    for number, paths in written.items():
        for p in paths:
            print(f"  [{number}] {p}")
    return 0


def _targets(args) -> int:
    from . import targets

    for name in targets.names():
        t = targets.get(name, n=args.n)
        print(f"{name:16s} n={t.n} alpha={t.alpha:g} C={t.constant:g}")
    return 0


def _rates(args) -> int:
    from .rates import rates_cli

    print(rates_cli(args.family, args.n, args.alpha, latex=args.latex))
    return 0


def _approximate(args) -> int:
    import json

    from . import approximate, targets

    f = targets.get(args.name, n=args.n)
    moe = approximate(f, args.eps, expert=args.expert, max_experts=args.max_experts, activation=args.activation,
                      rtol=args.rtol, max_evals=args.max_evals, progress=not args.json)
    cert = moe.certificate
    figures = {
        "target": args.name, "n": args.n, "eps": args.eps, "expert": args.expert, "activation": args.activation,
        "num_experts": moe.num_experts, "active_params": moe.active_params, "total_params": moe.total_params,
        "expert_depth": moe.expert_depth, "expert_width": moe.expert_width, "bound": cert.bound,
        "certified": bool(cert.bound <= args.eps), "evaluations": cert.evaluations, "rounds": cert.rounds,
        "seconds": cert.seconds,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:14s} {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moe-approx", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("reproduce", help="reproduce the paper's rate curves (CSV, JSON, PDF/PNG figures)")
    size = rep.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="quick sizes (default; minutes on 2 cores)")
    size.add_argument("--full", action="store_true", help="full sizes (under an hour on 2 cores)")
    size.add_argument("--tiny", action="store_true", help="tiny sizes for smoke tests")
    rep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    rep.add_argument("--only", type=int, nargs="+", metavar="N", help="run only these experiment numbers")
    rep.add_argument("--force", action="store_true", help="recompute finished results")
    rep.set_defaults(func=_reproduce)

    rt = sub.add_parser("rates", help="SymPy rates of an expert family: experts, active and total parameters vs eps")
    rt.add_argument("family", help="expert family (constant, cpwl, yarotsky, optimal) or 'all'")
    rt.add_argument("--n", type=int, default=None, help="dimension (default: symbolic)")
    rt.add_argument("--alpha", type=float, default=None, help="Hölder exponent in (0, 1] (default: symbolic)")
    rt.add_argument("--latex", action="store_true", help="print a LaTeX table")
    rt.set_defaults(func=_rates)

    ap = sub.add_parser("approximate", help="a mixture of experts with certified sup|f - moe| <= eps")
    ap.add_argument("name", help="library target (see 'moe-approx targets')")
    ap.add_argument("--n", type=int, default=2, help="dimension (default 2)")
    ap.add_argument("--eps", type=float, required=True, help="certified uniform tolerance")
    ap.add_argument("--expert", default="cpwl", help="expert family (default cpwl)")
    ap.add_argument("--activation", default="relu", choices=("relu", "prelu"))
    ap.add_argument("--max-experts", type=int, default=2**14, help="stop with an error beyond this many experts")
    ap.add_argument("--max-evals", type=int, default=2**24, help="box evaluations of the certificate, at most")
    ap.add_argument("--rtol", type=float, default=0.1, help="relative tolerance of the per-cell brackets")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.set_defaults(func=_approximate)

    tg = sub.add_parser("targets", help="list the library's Hölder targets with their (alpha, C)")
    tg.add_argument("--n", type=int, default=2, help="dimension (default 2)")
    tg.set_defaults(func=_targets)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .approximate import ApproximationError

    try:
        return args.func(args)
    except (ValueError, TypeError, MemoryError, ApproximationError) as err:
        print(f"moe-approx: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

