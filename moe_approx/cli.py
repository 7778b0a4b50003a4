"""The ``moe-approx`` command: reproduce, rates, design, approximate, targets.

Every subcommand takes ``--json`` (one JSON document on stdout; progress bars go to stderr);
every subcommand with a dimension takes ``--n`` with the same default (2). Formulas and counts:
docs/theory.md §6 (rates, designs) and §7 (VC dimension).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import re
import sys
import time
from pathlib import Path

from . import experts, targets
from ._version import __version__
from ._progress import default_progress

DEFAULT_N = 2


def _experiments_runner():
    """The runner of the experiments shipped in the package (``moe_approx.reproduce``)."""
    return importlib.import_module("moe_approx.reproduce.runner")


def _emit(args, figures: dict, text: str | None = None) -> int:
    """Print ``figures`` as one JSON object (``--json``), else ``text`` or one ``key value`` per line."""
    if args.json:
        print(json.dumps(figures))
    elif text is not None:
        print(text)
    else:
        width = max(map(len, figures), default=0)
        for key, value in figures.items():
            print(f"{key:{width}s}  {value}")
    return 0


def _reproduce(args) -> int:
    runner = _experiments_runner()  # its bar counts the selected experiments (true total)
    size = "full" if args.full else ("tiny" if args.tiny else "quick")
    start = time.perf_counter()
    written = runner.run(args.out, size=size, only=args.only, force=args.force)
    seconds = time.perf_counter() - start
    figures = {"size": size, "out": str(args.out), "seconds": seconds,
               "written": {str(k): [str(p) for p in v] for k, v in written.items()}}
    lines = [f"reproduced {len(written)} experiment(s) at size {size!r} in {seconds:.1f} s -> {args.out}"]
    lines += [f"  [{number}] {p}" for number, paths in written.items() for p in paths]
    if args.update_docs:  # README.md's generated spans and docs/figures/ of the source checkout here
        from .reproduce import readme

        figures["docs_notes"] = readme.update(args.out)
        lines += ["updated README.md and docs/figures/"] + [f"  {note}" for note in figures["docs_notes"]]
    return _emit(args, figures, "\n".join(lines))


def _targets(args) -> int:
    rows = [{"name": name, "n": t.n, "alpha": float(t.alpha), "C": float(t.constant)}
            for name, t in ((name, targets.get(name, n=args.n)) for name in targets.names())]
    text = "\n".join(f"{row['name']:16s} n={row['n']} alpha={row['alpha']:g} C={row['C']:g}" for row in rows)
    return _emit(args, {"targets": rows}, text)


def _rates(args) -> int:
    from . import rates

    n, alpha = (None, None) if args.symbolic else (args.n, args.alpha)
    tab = rates.table(args.family, n=n, alpha=alpha, activation=args.activation, progress=default_progress(None) and not args.json,
                      numeric_at=(args.n, args.alpha))
    if args.json:
        return _emit(args, {"family": args.family, "n": n, "alpha": alpha, "activation": args.activation,
                            "rows": tab.records()})
    return _emit(args, {}, tab.to_latex(args.width) if args.latex else str(tab))


def _design_figures(d, **settings) -> dict:
    """A :class:`rates.Design` as a flat JSON-ready dict (router counts as ``router_active``/``router_total``)."""
    out = {**settings}
    for f in dataclasses.fields(d):
        value = getattr(d, f.name)
        if f.name == "router":
            out["router_active"], out["router_total"] = int(value.active), int(value.total)
        else:
            out[f.name] = value
    out["active_bytes"] = d.active_bytes
    return out


def _design(args) -> int:
    from . import rates

    common = {"eps": args.eps, "n": args.n, "alpha": args.alpha, "C": args.C, "activation": args.activation}
    if args.budget is not None:
        families = "all" if args.family == "all" else [args.family]
        res = rates.budget_solve(args.eps, args.budget, n=args.n, alpha=args.alpha, C=args.C, families=families,
                                 activation=args.activation, objective=args.objective, unit=args.unit, progress=not args.json)
        if not res.feasible:
            raise ValueError(f"no design fits the budget: {res.reason}")
        figures = _design_figures(res.best, **common, budget=args.budget, unit=args.unit, objective=args.objective)
        return _emit(args, figures)
    if args.family == "all":
        raise ValueError("family 'all' needs --budget (the best family under a budget); name a family for --r")
    lo, hi = rates.r_range(args.family, args.n, args.alpha, args.activation)
    d = rates.design(args.family, eps=args.eps, r=args.r, n=args.n, alpha=args.alpha, C=args.C, activation=args.activation)
    return _emit(args, _design_figures(d, **common, r=args.r, r_max=float(hi)))


def _target(args):
    """The target a subcommand names: a library name (as a formula with ``--formula``), else a formula
    string in x1 … xn (``targets.from_sympy``; ``--alpha`` and ``--C`` declare its constants)."""
    from .targets import formula_library

    if args.name in targets.names():
        if args.alpha is not None or args.C is not None:
            raise ValueError(f"--alpha and --C declare a formula's constants; the library target {args.name!r} has its own")
        return formula_library.library(args.name, args.n) if args.formula else targets.get(args.name, n=args.n)
    if args.name.isidentifier() and args.name not in {f"x{i}" for i in range(1, args.n + 1)}:
        raise ValueError(f"unknown target {args.name!r}: a library target {_choices(targets.names())} "
                         f"or a formula in x1 … x{args.n} such as 'abs(x1 - 0.3)'")
    if (args.alpha is None) != (args.C is None):
        raise ValueError("--alpha and --C must be given together (or both omitted: C is then computed)")
    try:
        return targets.from_sympy(args.name, args.n, alpha=args.alpha, constant=args.C)
    except ValueError as err:
        raise ValueError(f"{err} (on the command line: --alpha A --C C)" if args.alpha is None else str(err)) from err


def _approximate(args) -> int:
    from . import approximate

    f = _target(args)
    moe = approximate(f, args.eps, expert=args.expert, max_experts=args.max_experts, activation=args.activation,
                      rtol=args.rtol, max_evals=args.max_evals, progress=default_progress(None) and not args.json)
    cert = moe.certificate
    figures = {
        "target": args.name, "n": args.n, "eps": args.eps, "expert": args.expert, "activation": args.activation,
        "num_experts": moe.num_experts, "active_params": moe.active_params, "total_params": moe.total_params,
        "expert_depth": moe.expert_depth, "expert_width": moe.expert_width, "bound": cert.bound,
        "certified": bool(cert.bound <= args.eps), "evaluations": cert.evaluations, "rounds": cert.rounds,
        "seconds": cert.seconds, "basis": cert.basis,
    }
    return _emit(args, figures)


def _common(dimension=True) -> argparse.ArgumentParser:
    """Options every subcommand shares: --json, and --n (same default everywhere) where a dimension applies."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    if dimension:
        parent.add_argument("--n", type=int, default=DEFAULT_N, help=f"dimension of the cube [0,1]^n (default {DEFAULT_N})")
    return parent


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`<]*?)(?:\s*<[^>]*>)?`")  # a role: name in backticks, optionally with a target in <angle brackets>


def _plain(text: str) -> str:
    """reST markup of a docstring as plain terminal text: roles and ``literals`` keep their text only
    (``~a.b.c`` shows as ``c``, as Sphinx shows it).

    Examples
    --------
    >>> _plain("See :func:`moe_approx.load`, :class:`~moe_approx.moe.MixtureOfExperts` and ``--json``.")
    'See moe_approx.load, MixtureOfExperts and --json.'
    """
    return _ROLE.sub(lambda m: m[2].rsplit(".", 1)[-1] if m[1] else m[2], text).replace("``", "")


class _PlainFormatter(argparse.RawDescriptionHelpFormatter):
    """Help as plain text: descriptions keep their line breaks, reST markup is removed everywhere."""

    def _fill_text(self, text, width, indent):
        return super()._fill_text(_plain(text), width, indent)

    def _split_lines(self, text, width):
        return super()._split_lines(_plain(text), width)


def _choices(values) -> str:
    return "{" + ", ".join(values) + "}"


def build_parser() -> argparse.ArgumentParser:
    families = tuple(experts.FAMILY_NAMES)
    parser = argparse.ArgumentParser(prog="moe-approx", description=__doc__, formatter_class=_PlainFormatter)
    parser.add_argument("--version", action="version", version=f"moe-approx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("reproduce", parents=[_common(dimension=False)],
                         help="reproduce the paper's rate curves (CSV, JSON, PDF/PNG figures)")
    size = rep.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="quick sizes (default; minutes on 2 cores)")
    size.add_argument("--full", action="store_true", help="full sizes (under an hour on 2 cores)")
    size.add_argument("--tiny", action="store_true", help="tiny sizes for smoke tests")
    rep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    rep.add_argument("--only", type=int, nargs="+", metavar="N", help="run only these experiment numbers")
    rep.add_argument("--force", action="store_true", help="recompute finished results")
    rep.add_argument("--update-docs", action="store_true",
                     help="then rewrite README.md's generated numbers and docs/figures/ from --out (source checkout)")
    rep.set_defaults(func=_reproduce)

    rt = sub.add_parser("rates", parents=[_common()], help="SymPy rates of a family: experts, active and total "
                        "parameters, VC bounds against eps (docs/theory.md §6, §7)")
    rt.add_argument("family", choices=families + ("all",), help=f"expert family {_choices(families + ('all',))}")
    rt.add_argument("--alpha", type=float, default=1.0, help="Hölder exponent in (0, 1] (default 1)")
    rt.add_argument("--symbolic", action="store_true", help="leave n and alpha symbolic where a family's closed forms take symbols "
                    "(elsewhere --n and --alpha are used, and the output says so)")
    rt.add_argument("--activation", default="relu", choices=("relu", "prelu"), help="activation {relu, prelu} (default relu)")
    rt.add_argument("--latex", action="store_true", help="print a LaTeX table (booktabs) that fits --width pt")
    rt.add_argument("--width", type=float, default=246.0, help="largest width of the LaTeX table in pt (default 246: "
                    "a column of a two-column article; 345: one column)")
    rt.set_defaults(func=_rates)

    ds = sub.add_parser("design", parents=[_common()], help="the exact integer design for eps at trade-off r, or the best "
                        "design under a memory budget (docs/theory.md §6)")
    ds.add_argument("family", choices=families + ("all",),
                    help=f"expert family {_choices(families + ('all',))}; 'all' needs --budget")
    ds.add_argument("--eps", type=float, required=True, help="uniform error bound to reach")
    how = ds.add_mutually_exclusive_group()
    how.add_argument("--r", type=float, default=0.0, help="trade-off r in [0, r_max]: active params ~ eps^-r (default 0)")
    how.add_argument("--budget", type=int, help="instead of r: the design with the fewest total parameters (or the "
                     "smallest VC bound, --objective vc) whose active parameters fit this budget")
    ds.add_argument("--unit", default="params", choices=("params", "bytes"), help="unit of --budget {params, bytes} (8 bytes "
                    "per float64 parameter; default params)")
    ds.add_argument("--objective", default="total", choices=("total", "vc"), help="what --budget minimises {total, vc}")
    ds.add_argument("--alpha", type=float, default=1.0, help="Hölder exponent in (0, 1] (default 1)")
    ds.add_argument("--C", type=float, default=1.0, help="Hölder constant (default 1)")
    ds.add_argument("--activation", default="relu", choices=("relu", "prelu"), help="activation {relu, prelu} (default relu)")
    ds.set_defaults(func=_design)

    ap = sub.add_parser("approximate", parents=[_common()], help="a mixture of experts with certified sup|f - moe| <= eps")
    ap.add_argument("name", help=f"library target {_choices(targets.names())}, or a formula in x1 … xn "
                    "(e.g. 'abs(x1 - 0.3) + x2**2', quoted)")
    ap.add_argument("--eps", type=float, required=True, help="certified uniform tolerance")
    ap.add_argument("--expert", default="cpwl", choices=families, help=f"expert family {_choices(families)} (default cpwl)")
    ap.add_argument("--activation", default="relu", choices=("relu", "prelu"), help="activation {relu, prelu} (default relu)")
    ap.add_argument("--max-experts", type=int, default=2**14, help="stop with an error beyond this many experts")
    ap.add_argument("--max-evals", type=int, default=2**24, help="box evaluations of the certificate, at most")
    ap.add_argument("--rtol", type=float, default=0.1, help="relative tolerance of the per-cell brackets")
    ap.add_argument("--formula", action="store_true",
                    help="certify a library target as a formula: interval enclosures, no declared constant "
                    "(docs/theory.md §9); a formula given as NAME always is")
    ap.add_argument("--alpha", type=float, help="declared Hölder exponent of a formula (with --C; default: alpha = 1 "
                    "and C a rigorous gradient bound, which needs a formula differentiable on the cube)")
    ap.add_argument("--C", type=float, help="declared Hölder constant of a formula (with --alpha)")
    ap.set_defaults(func=_approximate)

    tg = sub.add_parser("targets", parents=[_common()], help="list the library's Hölder targets with their (alpha, C)")
    tg.set_defaults(func=_targets)
    for command in sub.choices.values():
        command.formatter_class = _PlainFormatter
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .approximate import ApproximationError

    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:  # the reader left early (``moe-approx targets | head -1``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit flush cannot fail again
        return 128 + 13  # as if killed by SIGPIPE, the shell convention
    except (ValueError, TypeError, MemoryError, ApproximationError) as err:
        print(f"moe-approx: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
