"""The trade-off explorer (moe_approx/explorer.py, issue 21 item 3): its numbers are the rates
module's, its designs satisfy the exact relations of docs/theory.md §2 and §6 (checked by brute
force in integers), its leading-order frontier follows the §6 table, its certified point brackets a
dense-grid maximum, and its controls recompute the view.
"""

import builtins
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import moe_approx as ma
from moe_approx import explorer, rates

EPS = Fraction(1, 100)
CPWL = ma.experts.get("cpwl")


@pytest.fixture(scope="module")
def view():
    return explorer.tradeoff_view("cpwl", 1, 1.0, 1e-2, 0.5, 4096, certify=False)


def test_the_view_shows_the_rates_modules_numbers(view):
    assert view.design == rates.design("cpwl", 1e-2, 0.5, 1, 1.0)
    assert view.rate.r_max == 1
    assert [r for r, _ in view.frontier] == [sp.Rational(k, 8) for k in range(9)]
    assert all(d == rates.design("cpwl", 1e-2, r, 1, 1.0) for r, d in view.frontier)
    solved = rates.budget_solve(1e-2, 4096, n=1, alpha=1.0, unit="bytes", families=["cpwl"])
    assert view.in_budget == solved.best and view.budget.budget_params == 4096 // 8


def _ceil_log2(K):
    return (K - 1).bit_length()


@pytest.mark.parametrize("n", [1, 2])
def test_frontier_designs_by_brute_force(n):
    """cpwl, α = C = 1 (§4.2, §6): k = the largest with num_nonzero(k) <= ε^-r (else 1), K = ⌈100/k⌉
    (C (h/k)^α <= ε ⟺ K k >= 100), L = K^n, active = P + n⌈log₂K⌉, total = L·P + n(K − 1)."""
    v = explorer.tradeoff_view("cpwl", n, 1.0, 1e-2, 0, 8, r_points=5, certify=False)
    assert v.rate.r_max == n
    for r, d in v.frontier:
        p, q = r.p, r.q  # P <= 100^(p/q)  <=>  P^q <= 100^p, in integers
        fits = [k for k in range(1, 200) if int(CPWL.num_nonzero(n, "relu", k=k)) ** q <= 100**p]
        k = max(fits, default=1)
        K = -(-100 // k)
        P = int(CPWL.num_nonzero(n, "relu", k=k))
        assert (d.sizes, d.cells_per_side, d.expert_params) == ({"k": k}, K, P)
        assert d.num_experts == K**n
        assert d.active_params == P + n * _ceil_log2(K)
        assert d.total_params == K**n * P + n * (K - 1)
    L = [d.num_experts for _, d in v.frontier]
    size = [d.expert_params for _, d in v.frontier]
    assert L == sorted(L, reverse=True) and size == sorted(size)  # along r: fewer, larger experts


def _leading_tradeoff(v):
    """(r, expert size P, experts L) of the leading-order curve; active = P + n log₂K = P + log₂L."""
    r, active, L = v.leading
    return r, active - np.log2(L), L


def test_leading_order_frontier_follows_the_table(view):
    """§6, cpwl (n = α = C = 1): P ≍ 3k (num_nonzero = 3k + 1) and K ≍ 1/(kε), so L·P = 3/ε along r;
    L(r)/L(0) = ε^r."""
    r, P, L = _leading_tradeoff(view)
    assert len(r) == explorer.LEADING_POINTS and r[0] == 0 and r[-1] == 1
    assert [int(CPWL.num_nonzero(1, "relu", k=k)) for k in (1, 2)] == [4, 7]
    np.testing.assert_allclose(L * P, 300, rtol=1e-9)
    np.testing.assert_allclose(L / L[0], 0.01**r, rtol=1e-9)


def test_optimal_family_tradeoff_and_no_certified_point():
    """§6, optimal: L ≍ ε^-(n/α − 2r), P ≍ ε^-r: L·P² is constant; bit extraction is not certified (§4.4)."""
    v = explorer.tradeoff_view("optimal", 2, 1.0, 1e-2, 0.5, 4096, r_points=2)
    r, P, L = _leading_tradeoff(v)
    assert r[-1] == 1  # n / (2α)
    np.testing.assert_allclose(L * P**2, L[0] * P[0] ** 2, rtol=1e-9)
    assert v.report is None and v.note == explorer.UNCERTIFIABLE["optimal"]
    assert v.in_budget is None and v.summary()[0].endswith(v.budget.reasons["optimal"])  # 1567 > 512 parameters
    assert "*" not in [line.get_marker() for line in explorer.draw(v).axes[0].lines]  # no design in budget: no star


def test_fixed_size_family_has_one_point():
    v = explorer.tradeoff_view("constant", 1, 0.5, 1e-2, 0, 4096, certify=False)
    K = 100**2 // 2  # C (h/2)^(1/2) <= 1/100  <=>  K >= 100² / 2
    assert all(d.cells_per_side == K for _, d in v.frontier) and len(v.leading[0]) == 1


def test_target_is_holder_with_constant_one(rng):
    f = explorer.target(2, 0.5)
    x, y = rng.random((2, 4000, 2))
    y = np.where(rng.random((4000, 1)) < 0.5, x + 1e-4 * rng.standard_normal((4000, 2)), y).clip(0, 1)
    gap = np.abs(np.asarray(f(x)) - np.asarray(f(y)))
    assert (gap <= np.max(np.abs(x - y), axis=1) ** 0.5 + 1e-15).all()
    assert (f.alpha, f.constant) == (0.5, 1.0) and explorer.target(3, 1) is not None


def test_certified_point_brackets_the_dense_grid_maximum(view):
    v = explorer.tradeoff_view("cpwl", 1, 1.0, 1e-2, 0.5, 4096)
    d, rep = v.design, v.report
    assert rep is not None and rep.certified and rep.lower <= rep.upper <= (1 + 0.1) * rep.lower + 1e-12
    assert rep.lower <= d.error_bound
    f = explorer.target(1, 1.0)
    moe = ma.build_moe(f, ma.GridPartition(1, d.cells_per_side), expert="cpwl", **d.sizes)
    x = np.linspace(0, 1, 200_001)[:, None]
    dense = float(np.max(np.abs(np.asarray(f(x)) - np.asarray(moe(x)))))
    assert dense <= rep.upper * (1 + 1e-12)
    assert abs(float(f(rep.argmax[None])[0] - moe(rep.argmax[None])[0])) == pytest.approx(rep.lower, rel=1e-12)
    assert "certified" in v.table_text().splitlines()[-1]


def test_size_guard_names_the_limit():
    v = explorer.tradeoff_view("cpwl", 2, 1.0, 1e-2, 0, 4096)  # 10^4 experts of 107 stored parameters
    assert v.report is None and "max_certify_params = 32768" in v.note
    v = explorer.tradeoff_view("cpwl", 2, 1.0, 1e-2, 0, 4096, max_certify_params=10**7)
    assert v.report is None and "max_evals/4 = 4096" in v.note
    assert explorer.tradeoff_view("cpwl", 1, 1.0, 1e-2, 0.5, 4096, certify=False).note == "certify=False"


@pytest.mark.parametrize("kwargs, name", [
    ({"family": "yarotsky"}, "family"), ({"family": 3}, "family"), ({"n": 0}, "n"), ({"alpha": 1.5}, "alpha"),
    ({"eps": 0.0}, "eps"), ({"r": 1.5}, "r"), ({"budget_bytes": 7}, "budget_bytes"), ({"budget_bytes": 8.0}, "budget_bytes"),
    ({"r_points": 1}, "r_points"), ({"max_certify_params": 0}, "max_certify_params"),
])
def test_invalid_inputs_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        explorer.tradeoff_view(**({"certify": False} | kwargs))
    with pytest.raises(ValueError, match=rf"^{name} must"):
        explorer.explore(interactive=False, **({"certify": False} | kwargs))


def test_draw_redraws_the_same_figure(view):
    fig = explorer.draw(view)
    other = explorer.tradeoff_view("cpwl", 1, 1.0, 1e-3, 0.5, 4096, r_points=3, certify=False)
    assert explorer.draw(other, fig) is fig and len(fig.axes) == 2
    series = fig.axes[0].lines[0]
    assert list(series.get_xdata()) == [d.active_params for _, d in other.frontier]
    assert list(series.get_ydata()) == [d.num_experts for _, d in other.frontier]


@pytest.fixture
def no_ipywidgets(monkeypatch):
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "ipywidgets" or name.startswith("ipywidgets."):
            raise ImportError("No module named 'ipywidgets'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    monkeypatch.setattr(explorer, "_in_kernel", lambda: True)  # even in a kernel


def test_static_fallback_without_ipywidgets(no_ipywidgets, capsys):
    v = explorer.explore("cpwl", 1, 1.0, 1e-2, 0.75, 4096, certify=False)
    assert isinstance(v, explorer.View) and v.design == rates.design("cpwl", 1e-2, 0.75, 1, 1.0)
    assert capsys.readouterr().out.strip() == v.table_text()
    with pytest.raises(ImportError, match="ipywidgets"):
        explorer.explore(interactive=True, certify=False)


def test_static_outside_a_kernel():
    pytest.importorskip("ipywidgets")
    assert isinstance(explorer.explore(certify=False), explorer.View)


@pytest.fixture
def ui():
    pytest.importorskip("ipywidgets")
    return explorer.explore("cpwl", 1, 1.0, 1e-2, 0.5, 4096, interactive=True, certify=False, r_points=3)


def test_controls_recompute_the_view(ui):
    assert isinstance(ui, explorer.Explorer) and ui.controls["r"].max == 1.0
    ui.controls["r"].value = 1.0  # the observe callback runs
    assert ui.view.r == 1.0 and ui.view.design == rates.design("cpwl", 1e-2, 1, 1, 1.0)
    assert ui.view.design.sizes == {"k": 33} and ui.table.value == ui.view._repr_html_()
    ui.controls["n"].value = 2  # r_max = n/α = 2: the slider's range follows
    assert ui.controls["r"].max == 2.0 and ui.view.design == rates.design("cpwl", 1e-2, 1, 2, 1.0)
    ui.controls["family"].value = "constant"  # r_max = 0: r is clamped
    assert ui.controls["r"].value == 0 and ui.view.design == rates.design("constant", 1e-2, 0, 2, 1.0)
    ui.controls["eps"].value = 0.1
    assert ui.view.design.cells_per_side == 5  # C (h/2) <= 1/10


def test_callback_with_a_fake_change_and_an_invalid_setting(ui):
    before = ui.view
    ui.controls["budget_bytes"].value = 4  # the callback reports, the view stays
    assert ui.view is before and "invalid setting" in ui.table.value and "budget_bytes" in ui.table.value
    ui.controls["budget_bytes"].value = 256
    ui.controls["r"].value = 0.0
    assert ui.update({"name": "value", "old": 0.5, "new": 0.0, "owner": ui.controls["r"]}).in_budget.active_params <= 32
