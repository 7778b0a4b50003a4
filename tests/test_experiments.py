"""The reproduction runner at tiny sizes: every table and figure is written, every measured error
lies inside its certified bracket and below its proven bound, and the closed-form truths
(constant experts on |x₁ − 1/3|: 1/(2K); Yarotsky's square: 2^(−2m−2)) lie inside the brackets."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from moe_approx.plotting import fit_slope
from moe_approx.reproduce import runner as RUNNER
from moe_approx.reproduce import scripts
from moe_approx.reproduce._common import _parse  # the experiments' own CSV reader


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    written = RUNNER.run(out, size="tiny")
    return out, written


def _rows(path):
    with open(path) as fh:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def test_every_experiment_writes_table_sidecar_and_figures(tiny):
    out, written = tiny
    assert sorted(written) == sorted(RUNNER.EXPERIMENTS)
    for number, paths in written.items():
        suffixes = sorted(p.suffix for p in paths)
        assert {".csv", ".json", ".pdf", ".png"} <= set(suffixes), (number, suffixes)
        for p in paths:
            assert p.exists() and p.stat().st_size > 0
            if p.suffix == ".json":
                info = json.loads(p.read_text())
                assert info["complete"] and info["versions"]["moe_approx"]
            if p.suffix == ".csv":
                assert _rows(p), p


def _measured(out):
    for path in sorted(out.glob("*.csv")):
        rows = _rows(path)
        if rows and "lower" in rows[0] and "upper" in rows[0]:
            yield path.stem, [r for r in rows if math.isfinite(r["lower"])]


def test_measured_errors_lie_inside_brackets_and_below_proven_bounds(tiny):
    out, _ = tiny
    checked = 0
    for name, rows in _measured(out):
        for r in rows:
            assert 0 <= r["lower"] <= r["upper"] * (1 + 1e-12), (name, r)
            if math.isfinite(r.get("proven_bound", math.nan)):
                assert r["lower"] <= r["proven_bound"] * (1 + 1e-9), (name, r)
            checked += 1
    assert checked > 0


def test_closed_form_truths_lie_inside_brackets(tiny):
    out, _ = tiny
    truths = []
    for r in _rows(out / "exp01_error_vs_experts.csv"):
        if r["family"] == "constant" and r["target"] == "kink":
            # |x₁ − 1/3| changes by exactly h/2 from a cell's centre to the face farther from 1/3:
            # the constant expert's error is h/2 = 1/(2K) in every cell.
            truths.append((r, 1 / (2 * r["K"])))
    truths += [(r, 2.0 ** (-2 * r["m"] - 2)) for r in _rows(out / "exp07_yarotsky_square.csv")]
    for r, truth in truths:
        assert r["lower"] * (1 - 1e-12) <= truth <= r["upper"] * (1 + 1e-12), (r, truth)


def test_thin_script_command_line(tiny):
    """``python experiments/exp05_vc_dimension.py --size tiny --out OUT`` runs the package module
    (here on finished results, so it only reads them back)."""
    out, written = tiny
    assert scripts.main("exp05_vc_dimension", ["--size", "tiny", "--out", str(out)]) == written[5]
    with pytest.raises(ValueError, match="name must be one of"):
        scripts.main("exp99_nothing", [])


def test_every_figure_meets_the_house_style(tiny, monkeypatch):
    """Redraw every experiment's figures from the tiny results and check each drawn figure: at
    most 7 in wide and nothing outside the page, fonts >= 7 pt, no two series with the same
    (colour, marker) on one axes, no legend on data or text, no two texts overlapping."""
    from figure_checks import problems

    from moe_approx import plotting

    out, _ = tiny
    checked, save = {}, plotting.save

    def check_then_save(fig, stem):
        checked[Path(stem).name] = problems(fig)
        return save(fig, stem)

    monkeypatch.setattr(plotting, "save", check_then_save)
    RUNNER.run(out, size="tiny")
    assert len(checked) >= len(RUNNER.EXPERIMENTS)
    assert {name: found for name, found in checked.items() if found} == {}


def test_rerun_skips_finished_results(tiny):
    out, _ = tiny
    sidecar = out / "exp01_error_vs_experts.json"
    before = json.loads(sidecar.read_text())["started"]
    RUNNER.run(out, size="tiny", only=[1])
    assert json.loads(sidecar.read_text())["started"] == before


def slope_groups(rows, x, group):
    """(key, sizes, measured, theory slope) for each group of rows with a theoretical slope."""
    keys = sorted({tuple(r[g] for g in group) for r in rows})
    for key in keys:
        sel = [r for r in rows if tuple(r[g] for g in group) == key and math.isfinite(r["theory_slope"])]
        if len(sel) >= 3:
            mid = np.sqrt(np.array([r["lower"] for r in sel]) * np.array([r["upper"] for r in sel]))
            yield key, [r[x] for r in sel], mid, sel[0]["theory_slope"]


@pytest.mark.slow
def test_quick_slopes_match_theory(tmp_path):
    """The slopes the README reports: measured rate within 0.15 of the theoretical one."""
    RUNNER.run(tmp_path, size="quick", only=[n for n in (1, 2) if n in RUNNER.EXPERIMENTS])
    checked = 0
    for stem, x, group in (("exp01_error_vs_experts", "experts", ("family", "n", "target")),
                           ("exp02_error_vs_expert_size", "expert_nonzero", ("family", "n", "target"))):
        if not (tmp_path / f"{stem}.csv").exists():
            continue
        for key, sizes, err, theory in slope_groups(_rows(tmp_path / f"{stem}.csv"), x, group):
            assert abs(fit_slope(sizes, err) - theory) <= 0.15, (stem, key, fit_slope(sizes, err), theory)
            checked += 1
    assert checked > 0


def test_trained_regression_table_compares_three_models_of_equal_size(tiny):
    """Experiment 10: every run has the three model kinds; the single MLP's total parameters are within
    ±5 % of the MoMLP's; a certified upper end is never below the test maximum error of the same run."""
    out, _ = tiny
    rows = _rows(out / "exp10_trained_regression.csv")
    for key in {(r["n"], r["target"], r["run"]) for r in rows}:
        sel = {r["model"]: r for r in rows if (r["n"], r["target"], r["run"]) == key}
        assert set(sel) == {"trained_moe", "trained_mlp", "constructed_moe"}, key
        assert abs(sel["trained_mlp"]["param_ratio"] - 1) <= 0.05
        for r in sel.values():
            if math.isfinite(r["upper"]):
                assert r["upper"] >= r["test_max_error"] * (1 - 1e-12), r


def test_classification_table_states_router_count_and_accuracies(tiny):
    out, _ = tiny
    rows = _rows(out / "exp11_classification.csv")
    assert {r["model"] for r in rows} == {"trained_moe", "trained_mlp"}
    for r in rows:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["router_count"] == "prototypes"
        if r["model"] == "trained_moe":
            assert r["router_params_total"] == r["n"] * r["experts"]


def test_pre_asymptotic_designs_hold_the_smallest_expert(tiny):
    """Experiment 4 draws hollow (and does not fit) the designs whose budget ε^(−r) is below the
    family's smallest expert: rates.design then keeps that smallest expert (t = 1), the one it
    uses at r = 0; every other design with r > 0 has an expert within its budget."""
    from moe_approx.reproduce.exp04_params_vs_eps import pre_asymptotic

    out, _ = tiny
    rows = _rows(out / "exp04_params_vs_eps.csv")
    smallest = {r["family"]: r["expert_params"] for r in rows if r["r"] == 0}
    flagged = [r for r in rows if pre_asymptotic(r)]
    assert flagged  # the optimal family's smallest expert exceeds ε^(−1) at the tiny ε
    for r in rows:
        if pre_asymptotic(r):
            assert r["expert_params"] == smallest[r["family"]], r
        elif r["r"] > 0:  # at r = 0 the smallest expert is the design's intent, not a clamp
            assert r["expert_params"] <= r["eps"] ** -r["r"] * (1 + 1e-12), r


def test_vector_target_brackets_meet_the_components_and_count_twice(tiny):
    """Experiment 12: the vector's bracket and the max of the components' own brackets both contain
    max_j sup|f_j − Φ_j|, so they intersect; the constant experts of the two components in parallel
    hold 2 nonzeros per cell beside one shared grid router of n(K − 1) thresholds."""
    out, _ = tiny
    rows = _rows(out / "exp12_vector_target.csv")
    for K in {r["K"] for r in rows}:
        vector = next(r for r in rows if r["K"] == K and r["outputs"] == 2)
        parts = [r for r in rows if r["K"] == K and r["outputs"] == 1]
        assert len(parts) == 2 and vector["certified"]
        low = max(vector["lower"], *(r["lower"] for r in parts))
        assert low <= min(vector["upper"], max(r["upper"] for r in parts)) * (1 + 1e-12), K
        router = 2 * (K - 1)
        assert vector["total_nonzero"] - router == 2 * (parts[0]["total_nonzero"] - router) == 2 * K**2
