"""Experiment 1's slope fits (``exp01_error_vs_experts.slopes``) on data with known slopes, and the
fits its sidecar stores at tiny size."""

import csv
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moe_approx.reproduce import exp01_error_vs_experts as exp01
from moe_approx.reproduce._common import _parse


def _row(L, lower, upper, family="cpwl", n=2, target="kink", certified=True, bound=1.0, theory=-0.5):
    return {"n": n, "family": family, "target": target, "experts": L, "lower": lower, "upper": upper,
            "certified": certified, "proven_bound": bound, "theory_slope": theory}


@settings(max_examples=25, deadline=None)
@given(slope=st.floats(-2.0, -0.05), c=st.floats(1e-3, 10.0), width=st.floats(0.0, 0.2),
       sizes=st.lists(st.integers(1, 10**5), min_size=3, max_size=7, unique=True))
def test_an_exact_power_law_is_fitted_exactly(slope, c, width, sizes):
    # lower = c L^s (1 − w), upper = c L^s / (1 − w): the geometric mean is c L^s at every L
    rows = [_row(L, c * L**slope * (1 - width), c * L**slope / (1 - width), bound=4 * c * L**slope) for L in sizes]
    (fit,) = exp01.slopes(rows)
    assert fit["fitted"] == pytest.approx(slope, abs=1e-9)
    assert fit["local_min"] == pytest.approx(slope, abs=1e-9) and fit["local_max"] == pytest.approx(slope, abs=1e-9)
    assert fit["bound_ratio_min"] == pytest.approx(0.25) and fit["bound_ratio_max"] == pytest.approx(0.25)
    assert (fit["points"], fit["certified"], fit["predicted"]) == (len(sizes), len(sizes), -0.5)


def test_a_bent_series_gets_the_least_squares_slope_and_its_local_range():
    # log2 error 0, −1, −3 at log2 L 0, 1, 2: least squares −3/2, local slopes −1 and −2
    rows = [_row(4, 1 / 8, 1 / 8), _row(1, 1.0, 1.0), _row(2, 0.5, 0.5, certified="False")]
    (fit,) = exp01.slopes(rows)
    assert fit["fitted"] == pytest.approx(-1.5, abs=1e-12)
    assert (fit["local_min"], fit["local_max"]) == pytest.approx((-2.0, -1.0), abs=1e-12)
    assert fit["certified"] == 2


def test_series_are_separated_and_short_ones_not_fitted():
    rows = [_row(L, 1 / L, 1 / L, family="constant", n=1, theory=-1.0) for L in (2, 4)]
    rows += [_row(8, 0.1, 0.1, target="cusp")]
    rows += [_row(L, L**-0.5, L**-0.5) for L in (4, 16, 64)]
    fits = exp01.slopes(rows)
    assert [(f["n"], f["family"], f["target"]) for f in fits] == [(1, "constant", "kink"), (2, "cpwl", "cusp"),
                                                                 (2, "cpwl", "kink")]
    assert fits[0]["fitted"] is None and fits[0]["local_min"] == pytest.approx(-1.0)
    assert fits[1]["fitted"] is None and fits[1]["local_min"] is None and fits[1]["points"] == 1
    assert fits[2]["fitted"] == pytest.approx(-0.5)


def test_rows_without_the_needed_keys_are_refused():
    with pytest.raises(ValueError, match="rows must be dicts"):
        exp01.slopes([{"n": 1, "family": "cpwl"}])


def test_the_sidecar_stores_the_fits_of_its_table(tmp_path):
    exp01.run(tmp_path, size="tiny")
    with (tmp_path / "exp01_error_vs_experts.csv").open() as fh:
        rows = [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    stored = json.loads((tmp_path / "exp01_error_vs_experts.json").read_text())["summary"]["slopes"]
    assert stored == json.loads(json.dumps(exp01.slopes(rows)))
    assert len(stored) == 8 and all(f["certified"] == f["points"] == 3 for f in stored)
    # constant experts on the kink have error exactly 1/(2K) = L^(−1/n)/2 (docs/theory.md §2): slope −1/n
    for f in stored:
        if (f["family"], f["target"]) == ("constant", "kink"):
            assert math.isclose(f["fitted"], -1 / f["n"], abs_tol=0.05)
