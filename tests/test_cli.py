"""The command line: help for every subcommand, and a tiny reproduction that writes its files."""

import csv
import json
import subprocess
import sys

import pytest

from moe_approx.cli import build_parser, main


@pytest.mark.parametrize("sub", [[], *[[c] for c in build_parser()._subparsers._group_actions[0].choices]])
def test_help(sub, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(sub + ["--help"])
    assert exit_info.value.code == 0
    assert "usage: moe-approx" in capsys.readouterr().out


def test_targets_lists_library(capsys):
    assert main(["targets", "--n", "2"]) == 0
    assert "cone" in capsys.readouterr().out


def test_reproduce_tiny_writes_tables_and_figures(tmp_path):
    out = tmp_path / "res"
    proc = subprocess.run([sys.executable, "-m", "moe_approx.cli", "reproduce", "--tiny", "--only", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "exp01_error_vs_experts.csv").open()))
    assert rows and all(float(r["lower"]) <= float(r["proven_bound"]) * (1 + 1e-12) for r in rows)
    assert json.loads((out / "exp01_error_vs_experts.json").read_text())["complete"]
    assert (out / "exp01_error_vs_experts.png").stat().st_size > 1000


def test_unknown_experiment_is_an_error(tmp_path, capsys):
    assert main(["reproduce", "--tiny", "--only", "99", "--out", str(tmp_path)]) == 2
    assert "unknown experiment" in capsys.readouterr().err


# --- issue 14, item 4: version, choices, shared options, JSON everywhere, design, rates output ----------
import re
import types

import sympy as sp

import moe_approx as ma
from moe_approx import cli, experts, rates, targets


def _subparsers():
    return build_parser()._subparsers._group_actions[0].choices


def _run_json(argv, capsys):
    assert main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"moe-approx {ma.__version__}"


def test_help_lists_choices():
    subs = _subparsers()
    approx, rt, ds = subs["approximate"].format_help(), subs["rates"].format_help(), subs["design"].format_help()
    for family in experts.FAMILY_NAMES:
        assert family in approx and family in rt and family in ds
    for name in targets.names():
        assert name in approx


def test_every_subcommand_has_json_and_the_same_n_default():
    defaults = {}
    for name, sub in _subparsers().items():
        dests = {a.dest: a for a in sub._actions}
        assert "json" in dests, name
        if "n" in dests:
            defaults[name] = dests["n"].default
    assert set(defaults) == {"rates", "design", "approximate", "targets"}
    assert set(defaults.values()) == {cli.DEFAULT_N}


def test_targets_json_equals_library(capsys):
    got = _run_json(["targets", "--n", "3"], capsys)["targets"]
    assert [t["name"] for t in got] == targets.names()
    for t in got:
        lib = targets.get(t["name"], n=3)
        assert (t["n"], t["alpha"], t["C"]) == (3, float(lib.alpha), float(lib.constant))


@pytest.mark.parametrize("family,eps,r,n", [("cpwl", 1e-3, 1.0, 2), ("constant", 1e-2, 0.0, 1), ("optimal", 1e-3, 0.5, 2)])
def test_design_json_equals_library(family, eps, r, n, capsys):
    got = _run_json(["design", family, "--eps", str(eps), "--r", str(r), "--n", str(n)], capsys)
    d = rates.design(family, eps=eps, r=r, n=n, alpha=1)
    for f in ("sizes", "cells_per_side", "num_experts", "expert_params", "active_params", "total_params", "depth", "width",
              "error_bound", "vc_momlp"):
        assert got[f] == getattr(d, f), f
    assert (got["router_active"], got["router_total"]) == (d.router.active, d.router.total)
    assert got["error_bound"] <= eps and got["r_max"] == float(rates.r_range(family, n, 1)[1])


def test_design_budget_json_equals_budget_solve(capsys):
    got = _run_json(["design", "all", "--eps", "1e-3", "--budget", "1000000", "--objective", "vc"], capsys)
    best = rates.budget_solve(1e-3, 10**6, n=2, alpha=1, objective="vc").best
    assert (got["family"], got["sizes"], got["cells_per_side"], got["vc_momlp"]) == (best.family, best.sizes, best.cells_per_side, best.vc_momlp)
    assert got["active_params"] <= 10**6


def test_design_errors_name_the_argument(capsys):
    assert main(["design", "constant", "--eps", "1e-3", "--r", "1"]) == 2
    assert "r must be in [0, 0]" in capsys.readouterr().err
    assert main(["design", "all", "--eps", "1e-3"]) == 2
    assert "needs --budget" in capsys.readouterr().err


def test_rates_json_equals_library(capsys):
    got = _run_json(["rates", "cpwl", "--n", "2", "--alpha", "1"], capsys)
    tab = rates.table("cpwl", n=2, alpha=1.0)
    assert len(got["rows"]) == len(tab.rows)
    for rec, row in zip(got["rows"], tab.rows):
        assert (rec["family"], rec["quantity"]) == (row["family"], row["quantity"])
        for key in ("exact", "asymptotic", "exponent"):
            if row.get(key) is not None:
                parsed = sp.sympify(rec[key], locals={s.name: s for s in row[key].free_symbols})
                if parsed != row[key]:  # same value at a point (eps = 1/1000, r = 1/2, every other symbol 3)
                    point = {s: {"epsilon": sp.Rational(1, 1000), "r": sp.Rational(1, 2)}.get(s.name, 3) for s in row[key].free_symbols}
                    want = sp.N(row[key].subs(point), 30)
                    assert abs(sp.N(parsed.subs(point), 30) - want) <= 1e-12 * abs(want), (row["quantity"], key)
        if row["quantity"] == "total params":
            assert rec["exponent at r=0"] == rec["exponent at r=1"] == 2.0


def test_rates_plain_output_never_prints_an_exponent_as_a_quantity(capsys):
    assert main(["rates", "constant"]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"(experts L|active params|total params|VC MoMLP \(paper\))\s*=", out)
    assert re.search(r"total params\s+∝ ε\^-2\b", out) and re.search(r"active params\s+∝ ε\^0", out)
    assert "exponent of 1/ε: 2" in out  # details name the exponent as an exponent


def test_rates_latex_booktabs_varepsilon_short(capsys):
    assert main(["rates", "cpwl", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert all(rule in tex for rule in (r"\toprule", r"\midrule", r"\bottomrule")) and r"\hline" not in tex
    assert r"\varepsilon" in tex and not re.search(r"\\epsilon\b", tex)
    body = [line for line in tex.splitlines() if line.endswith(r"\\") and not line.startswith(r"\multicolumn{3}")]
    # quantity, leading terms, power of 1/eps; a leading term too wide continues across the last two columns
    assert body and all(line.count("&") == 2 or line.startswith(r" & \multicolumn{2}") for line in body)
    total = next(line for line in body if line.startswith("total params"))
    assert r"\frac{8 C^{2}}{\varepsilon^{2}}" in total  # leading term only, powers merged


def test_rates_symbolic(capsys):
    got = _run_json(["rates", "constant", "--symbolic"], capsys)
    row = next(x for x in got["rows"] if x["quantity"] == "experts L")
    assert sp.sympify(row["exponent"], locals={"n": rates.n, "alpha": rates.alpha}) == rates.n / rates.alpha


def test_rates_progress_bar_counts_families(capsys):
    rates.table(["constant", "cpwl"], n=2, alpha=1, paper=False, progress=True)
    assert "2/2" in capsys.readouterr().err


def test_reproduce_json(monkeypatch, tmp_path, capsys):
    calls = []

    def run(out, size, only, force):
        calls.append((out, size, only, force))
        return {5: [out / "exp05.csv", out / "exp05.png"]}

    monkeypatch.setattr(cli, "_experiments_runner", lambda: types.SimpleNamespace(run=run))
    got = _run_json(["reproduce", "--tiny", "--only", "5", "--out", str(tmp_path)], capsys)
    assert calls == [(tmp_path, "tiny", [5], False)]
    assert got["size"] == "tiny" and got["written"] == {"5": [str(tmp_path / "exp05.csv"), str(tmp_path / "exp05.png")]}


@pytest.mark.parametrize("formula", [False, True])
def test_approximate_json_says_what_the_certificate_rests_on(formula, capsys):
    """--formula certifies the library target through its formula; the JSON names the basis, and the
    bound is the certificate's (<= eps; constant experts on the cusp, n = 1)."""
    args = ["approximate", "cusp", "--n", "1", "--eps", "0.1", "--expert", "constant", "--json"] + ["--formula"] * formula
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["certified"] and out["bound"] <= 0.1
    assert out["basis"] == ("rigorous: from the formula" if formula else "conditional on the declared constants")


# --- defaults for every family, formulas as targets (issue 20) ----------------------------------------
@pytest.mark.parametrize("family", list(experts.FAMILY_NAMES) + ["all"])
def test_rates_defaults_every_family_python_and_cli(family, capsys):
    """`rates F --symbolic` and rates.table(F) with its defaults work for every family; a family whose
    closed forms need numbers is derived at --n/--alpha (default 2, 1) and the rows say so."""
    got = _run_json(["rates", family, "--symbolic"], capsys)
    tab = rates.table(family)
    assert [(r["family"], r["quantity"], r["n"]) for r in got["rows"]] == [(r["family"], r["quantity"], r["n"]) for r in tab.records()]
    for rec in got["rows"]:
        if rec["family"] in ("cpwl", "yarotsky", "optimal"):
            assert rec["n"] == 2  # their closed forms need a numeric n
        elif rec["family"] in ("constant", "paper"):
            assert rec["n"] == "n" and rec["alpha"] == "alpha"
    if family == "cpwl":
        at3 = _run_json(["rates", "cpwl", "--symbolic", "--n", "3"], capsys)
        assert {rec["n"] for rec in at3["rows"] if rec["family"] == "cpwl"} == {3}
        assert {rec["alpha"] for rec in at3["rows"] if rec["family"] == "cpwl"} == {"alpha"}  # alpha stays symbolic
    assert main(["rates", family, "--symbolic"]) == 0
    assert "in place of" in capsys.readouterr().out or family == "constant"


def test_rates_latex_width_option(capsys):
    assert main(["rates", "constant", "--latex", "--width", "345"]) == 0
    tex = capsys.readouterr().out
    assert r"{\small" in tex and r"\begin{tabular}{@{}lll@{}}" in tex


@pytest.mark.parametrize("args,constant", [
    (["abs(x1 - 0.3)", "--alpha", "1", "--C", "1"], 1.0),  # a kink: constants declared
    (["abs(x1 - 0.3)"], 1.0),  # a kink, no constants: the enclosures need none (issue 18 item 5)
    (["x1/2 + 1/4"], 0.5),  # smooth: C computed, a rigorous bound on the slope 1/2
])
def test_approximate_takes_a_formula(args, constant, capsys):
    out = _run_json(["approximate", *args, "--n", "1", "--eps", "0.1", "--expert", "constant"], capsys)
    assert out["certified"] and out["bound"] <= 0.1 and out["target"] == args[0]
    # constant experts on cells of side h have error <= C (h/2)^alpha: the certificate needs K >= C/(2 eps) cells
    assert out["num_experts"] >= constant / 0.2 - 1e-9


@pytest.mark.parametrize("args,match", [
    (["cnoe"], "unknown target 'cnoe'"),
    (["abs(x1 - 0.3)", "--alpha", "1"], "--alpha and --C must be given together"),
    (["kink", "--alpha", "1", "--C", "1"], "library target 'kink' has its own"),
    (["__import__('os').system('true') + x1"], "is not allowed"),
])
def test_approximate_formula_errors_name_the_option(args, match, capsys):
    assert main(["approximate", *args, "--n", "1", "--eps", "0.1"]) == 2
    assert match in capsys.readouterr().err
