"""approximate(): certified MoEs, checked on dense numpy grids (docs/theory.md §5)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import moe_approx as ma
from moe_approx.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from nets import dense_grid  # noqa: E402

# eps per dimension; the oscillatory and Weierstrass targets get a larger one (their cells must be tiny)
EPS = {1: 0.05, 2: 0.1, 3: 0.25}
SCALE = {"oscillatory": 4.0, "weierstrass": 2.0}
GRID = {1: 4096, 2: 160, 3: 24}


def check_library(n, expert):
    for name in ma.targets.names():
        f = ma.targets.get(name, n=n)
        eps = EPS[n] * SCALE.get(name, 1.0) * (1.5 if n == 3 and name == "oscillatory" else 1.0)
        moe = ma.approximate(f, eps, expert, max_experts=2**12)
        cert = moe.certificate
        x = dense_grid(n, GRID[n])
        measured = np.abs(np.asarray(f(x)) - np.asarray(moe(x))).max()
        assert measured <= cert.bound <= eps, name
        assert cert.cell_bounds.shape == (moe.num_experts,) and cert.bound == cert.cell_bounds.max()
        assert isinstance(moe.partition, ma.DyadicPartition) and cert.evaluations >= moe.num_experts


def test_library_targets_n1():
    check_library(1, "cpwl")


@pytest.mark.slow
@pytest.mark.parametrize("n, expert", [(2, "cpwl"), (3, "constant")])
def test_library_targets(n, expert):
    check_library(n, expert)


def uniform_level(f, eps, expert):
    """The coarsest uniform dyadic grid whose MoE the evaluator certifies to eps."""
    for level in range(16):
        moe = ma.build_moe(f, ma.DyadicPartition(f.n, level), expert)
        if ma.sup_error(f, moe, rtol=0.1, max_evals=2**20).upper <= eps:
            return moe.num_experts
    raise AssertionError("no uniform level certified")


def test_cusp_is_refined_locally():
    """|x₁ − 1/3|^(1/2): small cells only near 1/3, far fewer experts than the uniform grid."""
    f = ma.targets.get("cusp", n=1)
    moe = ma.approximate(f, 0.02, "cpwl")
    uniform = uniform_level(f, 0.02, "cpwl")
    assert moe.num_experts * 10 <= uniform
    levels = moe.partition.levels
    assert levels[moe.partition.locate(np.array([1 / 3]))] == levels.max() >= levels.min() + 4
    assert moe.certificate.bound <= 0.02


def test_certificate_agrees_with_sup_error():
    f = ma.targets.get("gaussian_bump", n=2)
    moe = ma.approximate(f, 0.05, "constant")
    report = ma.sup_error(f, moe, rtol=1e-2)
    assert report.lower <= moe.certificate.bound <= 0.05
    assert report.upper >= report.lower


def test_max_experts_exceeded_says_how_far_it_got():
    f = ma.targets.get("cusp", n=2)
    with pytest.raises(ma.ApproximationError, match=r"max_experts=20 .* 16 experts"):
        ma.approximate(f, 1e-3, "constant", max_experts=20)


def test_bad_inputs():
    f = ma.targets.get("cone", n=1)
    for eps in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="eps"):
            ma.approximate(f, eps)
    with pytest.raises(ValueError, match="rtol"):
        ma.approximate(f, 0.1, rtol=0.0)
    with pytest.raises(ValueError, match="unknown expert family"):
        ma.approximate(f, 0.1, "spline")
    with pytest.raises(ValueError, match="max_experts"):
        ma.approximate(f, 0.1, max_experts=0)
    with pytest.raises(TypeError, match="HolderTarget"):
        ma.approximate(lambda x: x, 0.1)


def test_cli_json(capsys):
    assert main(["approximate", "cone", "--n", "1", "--eps", "0.05", "--expert", "cpwl", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["certified"] and figures["bound"] <= 0.05
    assert figures["num_experts"] >= 1 and figures["total_params"] >= figures["active_params"] > 0
    assert main(["approximate", "cusp", "--n", "2", "--eps", "1e-4", "--expert", "constant", "--max-experts", "30"]) == 2
    assert "max_experts=30" in capsys.readouterr().err
