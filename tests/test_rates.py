"""Tests of moe_approx.rates (docs/theory.md §6–7).

Exponents are checked against the formulas of docs/theory.md §6; exact SymPy expressions against an
integer search (design) and both against brute force with exact rationals. Families not yet on
this branch (cpwl, yarotsky, optimal) have tests that skip only while their module is absent; the
generic machinery is exercised now with the test-only families of tests/fake_families.py.
"""

import itertools
import math
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from generic import generic_cells, generic_target
from fake_families import fake_cpwl, fake_numeric, fake_optimal
from moe_approx import experts, rates
from moe_approx.rates import C, eps, r

NS = range(1, 7)
ALPHAS = (sp.Rational(1, 2), sp.Integer(1))
REAL_FAMILIES = ("constant", "cpwl", "yarotsky", "optimal")


def real_family(name):
    """The family module, skipping the test only while its module is absent from the branch."""
    pytest.importorskip(f"moe_approx.experts.{name}")
    return experts.get(name)


# --- router --------------------------------------------------------------------------------------
def _tree(K, n):
    """(stored thresholds, longest path) of a per-axis balanced binary search over a K^n grid.

    Each axis is searched by the same bisection tree over its K cells, whatever the other axes
    gave, so an axis stores its tree's internal nodes once; a path visits one tree per axis.
    """

    def axis(lo, hi):  # (internal nodes, depth) of the bisection over cells lo..hi-1
        if hi - lo == 1:
            return 0, 0
        mid = (lo + hi + 1) // 2
        (a, da), (b, db) = axis(lo, mid), axis(mid, hi)
        return a + b + 1, 1 + max(da, db)

    nodes, depth = axis(0, K)
    return n * nodes, n * depth


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("K", range(1, 10))
def test_router_params_counts_an_explicit_routing_tree(n, K):
    nodes, depth = _tree(K, n)
    cost = rates.router_params(n, K)
    assert (cost.total, cost.active) == (nodes, depth)
    symbolic = rates.router_params(rates.n, rates.K)
    assert symbolic.total.subs({rates.n: n, rates.K: K}) == nodes
    assert symbolic.active.subs({rates.n: n, rates.K: K}) == depth


# --- exponents against docs/theory.md §6 --------------------------------------------------------------
def _assert_exponents(rt, r_max, L, active, total):
    assert sp.simplify(rt.r_max - r_max) == 0
    for quantity, want in (("experts L", L), ("active params", active), ("total params", total)):
        got = rt.exponent[quantity]
        assert sp.simplify(got - want) == 0, (rt.family, rt.n, rt.alpha, quantity, got, want)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("n", NS)
def test_constant_exponents(n, alpha):
    rt = rates.rate("constant", n, alpha)
    assert rt.method == "symbolic" and rt.growth == {}
    _assert_exponents(rt, 0, n / alpha, 0, n / alpha)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("n", NS)
def test_cpwl_like_exponents(n, alpha):
    for family, method in ((fake_cpwl, "symbolic"), (fake_numeric, "numeric fit")):
        rt = rates.rate(family, n, alpha)
        assert rt.method == method and rt.growth == {"k": 1}
        _assert_exponents(rt, n / alpha, n / alpha - r, r, n / alpha)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("n", NS)
def test_optimal_like_exponents_need_joint_growth(n, alpha):
    rt = rates.rate(fake_optimal, n, alpha)
    assert rt.growth == {"A": 1, "B": 1}  # growing A or B alone only gives the cpwl rate
    _assert_exponents(rt, n / (2 * alpha), n / alpha - 2 * r, r, n / alpha - r)


def test_symbolic_n_alpha_reproduce_theory_table():
    a, nn = rates.alpha, rates.n
    _assert_exponents(rates.rate("constant"), 0, nn / a, 0, nn / a)
    _assert_exponents(rates.rate(fake_cpwl), nn / a, nn / a - r, r, nn / a)
    _assert_exponents(rates.rate(fake_optimal), nn / (2 * a), nn / a - 2 * r, r, nn / a - r)
    # docs/theory.md §6 column "experts L at P = eps^-r": (C/eps)^(n/alpha) * P^-1 (cpwl), P^-2 (optimal).
    P = rates.P_sym
    for family, power in ((fake_cpwl, 1), (fake_optimal, 2), ("constant", 0)):
        row = next(x for x in rates.table(family, paper=False).rows if x["quantity"] == "experts L at P = eps^-r")
        ratio = sp.simplify(row["asymptotic"] * P**power / (C / eps) ** (nn / a))
        assert not ratio.has(P, eps, C), (family, ratio)


@pytest.mark.parametrize("name,r_max,L,total", [
    ("cpwl", lambda n, a: n / a, lambda n, a: n / a - r, lambda n, a: n / a),
    ("optimal", lambda n, a: n / (2 * a), lambda n, a: n / a - 2 * r, lambda n, a: n / a - r),
])
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("n", NS)
def test_real_family_exponents_match_theory(name, r_max, L, total, n, alpha):
    rt = rates.rate(real_family(name), n, alpha)
    _assert_exponents(rt, r_max(n, alpha), L(n, alpha), r, total(n, alpha))


@pytest.mark.parametrize("family", [fake_optimal, "optimal"])
@pytest.mark.parametrize("n", [2, 3, 4])
def test_reference_points_match_paper_claims(family, n):
    """alpha = 1: r = n/2 is one expert with eps^-(n/2) parameters (claim 2); r = 1 loads O(eps^-1) (claim 1)."""
    module = real_family(family) if isinstance(family, str) else family
    rt = rates.rate(module, n, 1)
    claims = rates.paper_claims(n, 1)
    at = lambda q, v: sp.simplify(rt.exponent[q].subs(r, v))
    assert rt.r_max == sp.Rational(n, 2)
    assert at("experts L", rt.r_max) == 0
    assert at("active params", rt.r_max) == rates.eps_exponent(claims["one MLP params"]) == sp.Rational(n, 2)
    assert at("active params", 1) == rates.eps_exponent(claims["active params"]) == 1


# --- exact expressions, designs, brute force ---------------------------------------------------
def _reaches(name, alpha, c, K, n, sizes, e):
    """error_bound(alpha, c, 1/K, n) <= e for constant and the fakes, in exact rationals.

    err = c·x^(alpha/power) with x, power below, so err <= e  <=>  x <= (e/c)^(power/alpha).
    """
    h = Fraction(1, K)
    if name == "optimal":  # C (h/M)^alpha (1 + 2^-20)(1/2 + 2^-alpha), alpha = 1 (docs/theory.md §4.4)
        assert alpha == 1
        M = experts.get("optimal").grid_side(n, sizes["A"], sizes["B"])
        return c * h / M * (1 + Fraction(1, 2**20)) <= Fraction(e)
    x, power = {
        "constant": lambda: (h / 2, 1),  # C (h/2)^alpha
        "fake_cpwl": lambda: (h / sizes["k"], 1),  # C (h/k)^alpha
        "cpwl": lambda: (h / sizes["k"], 1),  # C (h/k)^alpha (docs/theory.md §4.2)
        "fake_optimal": lambda: (h**n / (sizes["A"] * sizes["B"]), n),  # C h^alpha (AB)^(-alpha/n)
    }[name]()
    m = Fraction(power) / Fraction(str(alpha))
    assert m.denominator == 1
    return x <= (Fraction(e) / c) ** int(m)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("family", ["constant", fake_cpwl, fake_optimal])
def test_exact_expressions_equal_integer_designs(family, n, alpha):
    rt = rates.rate(family, n, alpha)
    name = rt.family
    for e in (Fraction(1, 10), Fraction(1, 997), Fraction(3, 10**5)):
        for rr in sorted({sp.Integer(0), rt.r_max / 3, rt.r_max}):
            d = rates.design(family, e, rr, n, alpha, C=2)
            values = {q: rt.exact[q].subs({eps: sp.Rational(e.numerator, e.denominator), r: rr, C: 2})
                      for q in ("cells per side K", "params per expert", "active params", "total params")}
            assert [int(v) for v in values.values()] == [d.cells_per_side, d.expert_params, d.active_params, d.total_params]
            assert rates.cells_for(family, e, n, alpha, C=2, **d.sizes) == d.cells_per_side
            # K is the smallest reaching eps, by exact rationals
            assert _reaches(name, alpha, 2, d.cells_per_side, n, d.sizes, e)
            assert d.cells_per_side == 1 or not _reaches(name, alpha, 2, d.cells_per_side - 1, n, d.sizes, e)
            # the sizes are the largest on the growth path with num_params <= eps^-r
            if rt.growth:
                bigger = {s: v + 1 if rt.growth[s] else v for s, v in d.sizes.items()}  # t + 1 (weights are 1)
                budget = sp.Rational(e.numerator, e.denominator) ** -rr
                assert d.expert_params <= budget or all(v == 1 for v in d.sizes.values())
                assert family.num_nonzero(n, "relu", **bigger) > budget


@pytest.mark.parametrize("family", ["constant", fake_cpwl, fake_optimal])
def test_design_counts_grow_at_the_derived_exponents(family):
    """Slopes of exact integer designs between eps = 1e-5 and 1e-8 approach the derived exponents."""
    n, alpha = 2, 1
    rt = rates.rate(family, n, alpha)
    rr = rt.r_max / 2
    d1, d2 = (rates.design(family, e, rr, n, alpha) for e in (1e-5, 1e-8))
    slope = lambda a, b: math.log(b / a) / math.log(1e3)
    for attr, quantity in (("num_experts", "experts L"), ("total_params", "total params"), ("vc_momlp", "VC MoMLP (paper)")):
        want = float(rt.exponent[quantity].subs(r, rr))
        assert abs(slope(getattr(d1, attr), getattr(d2, attr)) - want) < 0.05, (rt.family, quantity)
    # active params ~ eps^-r up to the log of the router
    assert abs(slope(d1.expert_params, d2.expert_params) - float(rr)) < 0.05


@pytest.mark.parametrize("name", REAL_FAMILIES)
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("activation", ["relu", "prelu"])
def test_symbolic_counts_equal_built_networks(name, n, activation):
    module = real_family(name)
    syms = rates.size_symbols(module)
    variants = [dict(module.SIZE_DEFAULTS)] + [{**module.SIZE_DEFAULTS, s: v} for s in module.SIZE_DEFAULTS for v in (1, 2)]
    target, (lo, hi) = generic_target(n), generic_cells(n)  # generic position: no weight vanishes by accident
    for sizes in variants:
        fixed = {s: sizes[s] for s in ("degree",) if s in sizes}  # yarotsky's closed forms need a numeric degree
        try:
            forms = rates.closed_forms(module, **fixed)  # symbolic n where the family allows
        except ValueError:
            forms = rates.closed_forms(module, n, **fixed)
        net = module.build(target, lo, hi, activation=activation, **sizes)
        subs = {rates.n: n, **{syms[s]: v for s, v in sizes.items() if s not in fixed}}
        want = {q: forms.forms[(q, activation)].subs(subs) for q in ("depth", "width", "num_params", "num_nonzero")}
        got = {"depth": net.depth, "width": net.width, "num_params": net.num_params, "num_nonzero": int(np.max(net.num_nonzero))}
        assert got == want, (name, sizes)


@pytest.mark.parametrize("n", [1, 3])
def test_closed_forms_interpolated_when_the_family_needs_numbers(n):
    fitted, symbolic = rates.closed_forms(fake_numeric, n), rates.closed_forms(fake_cpwl, n)
    assert fitted.method == "interpolated" and symbolic.method == "symbolic"
    for key, expr in symbolic.forms.items():
        assert sp.expand(fitted.forms[key] - expr) == 0, key
    with pytest.raises(ValueError, match="numeric n"):
        rates.closed_forms(fake_numeric)


def _brute_force(families, e, cap, n, objective="total"):
    """Best design per family by plain loops over sizes <= 40 and K, errors in exact rationals (alpha = 1)."""
    best = {}
    for family in families:
        module = experts.get(family) if isinstance(family, str) else family
        name = module.__name__.rsplit(".", 1)[-1]
        keys = list(module.SIZE_DEFAULTS)
        limits = getattr(module, "SIZE_LIMITS", {})
        for values in itertools.product(*[range(1, min(40, limits.get(k, 40)) + 1) for k in keys]):
            sizes = dict(zip(keys, values))
            P = module.num_nonzero(n, "relu", **sizes)  # rates count nonzero parameters
            if P > cap:
                continue
            K = next(K for K in itertools.count(1) if _reaches(name, 1, 1, K, n, sizes, e))
            active = P + n * next(j for j in itertools.count() if 2**j >= K)  # ⌈log2 K⌉ per coordinate
            if active > cap:
                continue
            total = K**n * P + n * (K - 1)  # n·(K − 1) stored thresholds, shared per axis
            vc = K**n * max(n * K**n, module.depth(n, "relu", **sizes) * module.width(n, "relu", **sizes))
            score = (total, active) if objective == "total" else (vc, total, active)
            if name not in best or score < best[name][0]:
                best[name] = (score, sizes, K)
    return best


CASES = [(Fraction(1, 50), 60, 1), (Fraction(1, 20), 120, 2), (Fraction(1, 100), 70, 2), (Fraction(1, 400), 40, 1)]


@pytest.mark.parametrize("e,cap,n", CASES)
def test_budget_solver_matches_brute_force(e, cap, n):
    families = ["constant", fake_cpwl, fake_optimal]
    res = rates.budget_solve(e, cap, n=n, alpha=1, families=families)
    brute = _brute_force(families, e, cap, n)
    assert set(res.per_family) == set(brute)
    for name, (score, sizes, K) in brute.items():
        d = res.per_family[name]
        assert (d.total_params, d.active_params) == score and d.cells_per_side == K, name
    assert (res.best.total_params, res.best.active_params) == min(v[0] for v in brute.values())
    same = rates.budget_solve(e, 8 * cap + 7, n=n, alpha=1, families=families, unit="bytes")
    assert same.budget_params == cap and same.best == res.best


@pytest.mark.parametrize("e,cap,n", [(Fraction(1, 30), 400, 1), (Fraction(1, 40), 900, 1), (Fraction(1, 8), 5000, 2),
                                     (Fraction(1, 12), 9000, 2),
                                     (Fraction(1, 2), 1450, 2)])  # optimal n = 2: only B = 2 fits (count not monotone in B)
@pytest.mark.parametrize("objective", ["total", "vc"])
def test_budget_solver_matches_brute_force_on_real_families(e, cap, n, objective):
    """cpwl and optimal (sizes within SIZE_LIMITS: B <= 27), against plain loops in exact rationals."""
    families = ["constant", "cpwl", "optimal"]
    res = rates.budget_solve(e, cap, n=n, alpha=1, families=families, objective=objective)
    brute = _brute_force(families, e, cap, n, objective=objective)
    assert set(res.per_family) == set(brute) and brute
    for name, (score, sizes, K) in brute.items():
        d = res.per_family[name]
        got = (d.total_params, d.active_params) if objective == "total" else (d.vc_momlp, d.total_params, d.active_params)
        assert got == score, (name, d.sizes, sizes)


@pytest.mark.parametrize("name", ["cpwl", "optimal", "yarotsky"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("activation", ["relu", "prelu"])
def test_first_size_keyword_is_monotone(name, n, activation):
    """The budget solver's premise: in a family's first size keyword, num_nonzero, depth and width
    never decrease and error_bound never increases (other keywords at every value up to 12)."""
    module = real_family(name)
    keys = list(module.SIZE_DEFAULTS)
    first, others = keys[0], keys[1:]
    for values in itertools.product(*[range(1, 13 if k != "degree" else 5) for k in others]):
        rest = dict(zip(others, values))
        row = []
        for x in range(1, 60):
            s = {**rest, first: x}
            row.append((module.num_nonzero(n, activation, **s), module.depth(n, activation, **s), module.width(n, activation, **s),
                        -float(module.error_bound(1.0, 1.0, 0.5, n, **s))))
        for a, b in zip(row, row[1:]):
            assert all(x <= y for x, y in zip(a, b)), (name, rest, a, b)


def test_budget_solver_progress_bar_has_the_true_total(capsys):
    """One step per family without outer sizes (constant, cpwl), one per B <= 27 that fits (optimal)."""
    rates.budget_solve(1e-2, 10**5, n=2, alpha=1, progress=True)
    err = capsys.readouterr().err
    assert re.search(r"budget_solve: 100%.* 29/29 ", err), err[-300:]


def test_old_keywords_warn_and_agree():
    with pytest.warns(DeprecationWarning, match="deprecated keyword\\(s\\) 'eps_', 'r_'; use 'eps', 'r'"):
        old = rates.design("cpwl", eps_=1e-3, r_=1, n=2, alpha=1)
    assert old == rates.design("cpwl", eps=1e-3, r=1, n=2, alpha=1) == rates.design("cpwl", 1e-3, 1, 2, 1)
    with pytest.warns(DeprecationWarning):
        assert rates.cells_for("cpwl", eps_=1e-3, n=2, alpha=1, k=9) == 112
    with pytest.warns(DeprecationWarning):
        assert rates.sample_complexity(3, eps_=sp.Rational(1, 2), delta_=1) == 12
    with pytest.raises(TypeError, match="both 'eps_' .* and 'eps'"):
        rates.design("cpwl", eps=1e-3, eps_=1e-3, r=1, n=2, alpha=1)


@pytest.mark.parametrize("budget", [10**6, 10**9])
def test_budget_solver_answers_large_budgets_quickly(budget):
    """Issue 12: budgets of 10^6 and 10^9 parameters answered by scoring a frontier, not the grid
    (the number of designs scored is the machine-independent measure of the work)."""
    res = rates.budget_solve(1e-3, budget, n=2, alpha=1)
    assert set(res.per_family) == {"constant", "cpwl", "optimal"}
    assert sum(res.scored.values()) < 5000
    for d in res.per_family.values():
        assert d.error_bound <= 1e-3 and d.active_params <= budget
        assert d.sizes.get("B", 1) <= experts.get("optimal").MAX_BLOCK_FLOAT64
    # the constant family (500^2 cells at 1 parameter each) has the fewest total parameters
    assert res.best.family == "constant" and res.best.total_params == 500**2 + 2 * 499
    # more memory never hurts: each family's best total at 10^9 is at most its best at 10^6
    if budget == 10**9:
        small = rates.budget_solve(1e-3, 10**6, n=2, alpha=1)
        for name, d in small.per_family.items():
            assert res.per_family[name].total_params <= d.total_params


@pytest.mark.parametrize("e,cap,n", CASES[1:3])
def test_budget_solver_vc_objective_matches_brute_force(e, cap, n):
    families = [fake_cpwl, fake_optimal]
    res = rates.budget_solve(e, cap, n=n, alpha=1, families=families, objective="vc")
    brute = _brute_force(families, e, cap, n, objective="vc")
    for name, (score, sizes, K) in brute.items():
        d = res.per_family[name]
        assert (d.vc_momlp, d.total_params, d.active_params) == score, name


def test_budget_solver_says_why_nothing_fits():
    res = rates.budget_solve(0.3, 2, n=2, alpha=1, families=["constant", fake_cpwl])
    assert not res.feasible and res.best is None
    # fake_cpwl at k = 1, n = 2: (n + 1)(k + 1)^n = 12 nonzero parameters
    assert "smallest expert" in res.reasons["fake_cpwl"] and "12 parameters > budget 2" in res.reasons["fake_cpwl"]
    # the constant expert (1 parameter) fits, but its router on K = 2 does not: 1 + 2*1 = 3 > 2
    assert "3 loaded parameters > budget 2" in res.reasons["constant"]
    # small experts fit, but the router for a fine grid does not: 1 + 2*ceil(log2 500) = 19 > 18
    res = rates.budget_solve(1e-3, 18, n=2, alpha=1, families=["constant"])
    assert not res.feasible and "19 loaded parameters > budget 18" in res.reason


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: rates.design(fake_cpwl, 0.01, 2.5, 2, 1), r"r must be in \[0, 2\]"),
    (lambda: rates.design(fake_optimal, 0.01, -0.1, 2, 1), r"r must be in \[0, 1\]"),
    (lambda: rates.design("constant", 0.01, 0.5, 2, 1), r"r must be in \[0, 0\]"),
    (lambda: rates.design("constant", 0, 0, 2, 1), "eps must be > 0"),
    (lambda: rates.design("constant", -1e-3, 0, 2, 1), "eps must be > 0"),
    (lambda: rates.rate("constant", 0, 1), "n must be an integer >= 1"),
    (lambda: rates.rate("constant", 1.5, 1), "n must be an integer >= 1"),
    (lambda: rates.rate("constant", True, 1), "n must be an integer >= 1"),
    (lambda: rates.rate("constant", 2, 0), r"alpha must be in \(0, 1\]"),
    (lambda: rates.rate("constant", 2, 1.5), r"alpha must be in \(0, 1\]"),
    (lambda: rates.design("constant", 0.1, 0, 2, 1, C=0), "C must be > 0"),
    (lambda: rates.rate("nope", 2, 1), "unknown expert family"),
    (lambda: rates.budget_solve(0.1, 0, n=2, alpha=1), "budget must be an integer >= 1"),
    (lambda: rates.budget_solve(0.1, 10, n=2, alpha=1, unit="floats"), "unit must be"),
    (lambda: rates.budget_solve(0.1, 10, n=2, alpha=1, objective="size"), "objective must be"),
    (lambda: rates.router_params(2, 0), "K .* must be an integer >= 1"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_family_raises_type_error():
    with pytest.raises(TypeError, match="missing"):
        rates.rate(object(), 2, 1)
    with pytest.raises(TypeError, match="eps must be a real number"):
        rates.design("constant", "0.1", 0, 2, 1)


# --- VC, PAC, outputs --------------------------------------------------------------------------
def test_vc_and_sample_complexity_expressions():
    L, J, W, P, d = sp.symbols("L J W P d", positive=True)
    assert rates.vc_momlp(4, 2, 3, 5) == 4 * 15 and rates.vc_momlp(4, 2, 1, 5) == 4 * 8
    assert sp.simplify(rates.vc_bhlm(P, J) - P * J * sp.log(P)) == 0
    m = rates.sample_complexity(d, eps, rates.delta)
    assert sp.simplify(m * eps**2 - d - sp.log(1 / rates.delta)) == 0
    assert rates.eps_exponent(m) == 2  # m ≍ eps^-2 at fixed d


def test_table_matrix_rows_latex_lambdify_cli():
    tab = rates.table(["constant", fake_cpwl, fake_optimal], n=2, alpha=1)
    assert tab.matrix.shape == (3 * len(rates.QUANTITIES), len(tab.col_labels))
    keys = [(row["family"], row["quantity"]) for row in tab.rows]
    assert len(keys) == len(set(keys))  # one dict per family and quantity
    assert {("fake_optimal", q) for q in rates.QUANTITIES} <= set(keys)
    assert ("paper", "active params") in keys
    # the matrix holds the same expressions as the rows
    i = tab.row_labels.index("fake_optimal: total params")
    row = next(x for x in tab.rows if x["family"] == "fake_optimal" and x["quantity"] == "total params")
    assert tab.matrix[i, 1] == row["asymptotic"] and tab.matrix[i, 2] == row["exponent"] == 2 - r
    assert tab.matrix[i, 3:] == sp.Matrix([[2, 1, 1]])
    f = tab.lambdify("fake_optimal", "total params")
    grid = np.array([1e-2, 1e-3])
    want = [float(row["asymptotic"].subs({eps: x, r: 0.5, C: 3})) for x in grid]
    np.testing.assert_allclose(f(grid, 0.5, 3.0), want, rtol=1e-12)
    tex = rates.to_latex(tab)
    assert r"\begin{tabular}" in tex and r"\varepsilon^{-r}" in tex and "eps^-r" not in tex
    out = rates.rates_cli("constant", 2, 1, latex=False)
    assert "constant" in out and "docs/theory.md §6" in out
    assert r"\begin{tabular}" in rates.rates_cli("constant", 2, 1, latex=True)


@pytest.mark.parametrize("family", ["constant", fake_cpwl, fake_optimal])
@pytest.mark.parametrize("quantity", ["experts L", "active params", "total params", "VC MoMLP (paper)", "VC one network (BHLM)"])
def test_tidy_keeps_the_leading_terms(family, quantity):
    """tidy(expr)/expr -> 1 as eps -> 0 at every r in [0, r_max] (only lower-order terms are dropped),
    and a tidied exponent equals the exponent."""
    rt = rates.rate(family, 2, 1)
    expr = rt.asymptotic[quantity]
    short = rates.tidy(expr, rt.r_max)
    assert sp.count_ops(short) <= sp.count_ops(expr)
    for rr in sorted({sp.Integer(0), rt.r_max / 2, rt.r_max}):
        ratio = [float((short / expr).subs({r: rr, C: 3, eps: sp.Rational(1, 10**k)})) for k in (30, 60)]
        assert abs(ratio[1] - 1) < 1e-6 and abs(ratio[1] - 1) <= abs(ratio[0] - 1) + 1e-15, (quantity, rr, ratio)
        want = rt.exponent[quantity].subs(r, rr)
        assert sp.simplify(rates.tidy(rt.exponent[quantity]).subs(r, rr) - want) == 0


# --- defaults, reprs, LaTeX that fits a column (issue 20) ----------------------------------------
@pytest.fixture(scope="module")
def default_table():
    return rates.table()  # every Hölder family, n and alpha symbolic where their closed forms allow


@pytest.mark.parametrize("name", REAL_FAMILIES)
def test_rate_defaults_work_for_every_family(name):
    """n, alpha left symbolic: a family whose closed forms need numbers gets numeric_at = (2, 1) in
    place of the symbol(s) it refuses, and says so; the exponents are those of docs/theory.md §6."""
    rt = rates.rate(real_family(name))
    a = rates.alpha if "alpha" not in rt.substituted else 1
    nn = rates.n if "n" not in rt.substituted else 2
    assert (rt.n, rt.alpha) == (nn, a) and all(f"{k} = {v}" in rt.note for k, v in rt.substituted.items())
    if name in ("constant", "cpwl", "optimal"):
        total = {"constant": nn / a, "cpwl": nn / a, "optimal": nn / a - r}[name]
        assert sp.simplify(rt.exponent["total params"] - total) == 0
    assert name != "constant" or rt.substituted == {}  # its closed forms take symbols
    assert rates.rate(real_family(name), numeric_at=(3, 1)).n == (3 if "n" in rt.substituted else rates.n)


def test_table_defaults_name_what_they_substituted(default_table):
    by_family = {}
    for row in default_table.rows:
        by_family.setdefault(row["family"], set()).add((str(row["n"]), str(row["alpha"]), row.get("note", "")[:12]))
    assert set(by_family) == {"constant", "cpwl", "optimal", "paper"}
    assert by_family["constant"] == {("n", "alpha", "")}
    assert {(n_, a_) for n_, a_, _ in by_family["cpwl"]} == {("2", "alpha")}
    assert all("in place of" in row["note"] for row in default_table.rows if row["family"] == "optimal")
    recs = default_table.records()
    assert {(rec["family"], rec["n"]) for rec in recs if rec["family"] != "paper"} == {("constant", "n"), ("cpwl", 2), ("optimal", 2)}
    assert "n = 2 in place of a symbol" in str(default_table)


def _from_text(s):
    """The plain text of RateTable's repr back to SymPy (ε, α, ^, ·, log2)."""
    s = s.replace("·", "*").replace("^", "**").replace("ε", "epsilon").replace("α", "alpha")
    return sp.sympify(s, locals={"log2": lambda x: sp.log(x, 2), "epsilon": eps, "alpha": rates.alpha, "r": r, "C": C,
                                 "n": rates.n})


def _same(shown, expr):
    """Equal; with floats (printed to 3 digits), equal to 0.5 % at a point."""
    if not expr.atoms(sp.Float):
        return sp.simplify(shown - expr) == 0
    point = {eps: sp.Rational(1, 1000), r: sp.Rational(1, 3), C: 2, rates.n: 3, rates.alpha: sp.Rational(1, 2)}
    a, b = (sp.N(x.subs(point)) for x in (shown, expr))
    return abs(a - b) <= 5e-3 * abs(b)


def test_repr_html_markdown_one_row_per_quantity(default_table):
    blocks = default_table.blocks()
    quantities = [(family, q) for family, _, rows in blocks for q, _, _ in rows]
    assert len(quantities) == len(default_table.rows)
    text = repr(default_table)
    assert "RateTable at" in text.splitlines()[0] and "{'rows'" not in text
    html_ = default_table._repr_html_()
    assert html_.count("<tr>") == 1 + len(quantities) + len(blocks)  # head, one per quantity, one per family
    md = default_table._repr_markdown_().splitlines()
    assert sum(line.startswith("| ") for line in md) == 1 + len(quantities)
    # the text repr, read back row by row, shows the tidied expressions of the rows in order
    shown, lines = [], text.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("quantity "))
    for line in lines[start + 1:]:
        if line.startswith("["):
            continue
        if line.startswith(" "):  # a wrapped leading term continues
            shown[-1][1] += " " + line.strip()
            continue
        cells = re.split(r"\s{2,}", line.strip()) + [""]
        shown.append([cells[0], cells[1] if len(cells) > 2 else "", cells[2] if len(cells) > 3 else ""])
    rows = [row for _, _, block in blocks for row in block]
    assert [q for q, _, _ in shown] == [q.replace("eps", "ε") for q, _, _ in rows]
    checked = 0
    for (_, value_text, expo_text), (q, value, expo) in zip(shown, rows):
        if isinstance(value, sp.Expr) and value.free_symbols <= {eps, r, C, rates.n, rates.alpha} and "  " not in value_text:
            assert _same(_from_text(value_text), value), q
            checked += 1
        if expo is not None:
            assert _same(_from_text(expo_text), expo), q
    assert checked > 20


def test_log2_printed_as_log2():
    K = rates.K
    active = rates.router_params(3, K).active  # 3 ceil(log(K)/log(2))
    assert rates.to_latex(active) == r"3 \left\lceil{\log_2\left(K\right)}\right\rceil"
    expr = 2 * sp.log(C / eps, 2) + sp.log(C) + 1  # a natural log stays a natural log
    shown = rates.display.with_log2(expr)
    assert shown.replace(rates.display.Log2, lambda x: sp.log(x) / sp.log(2)) == expr
    assert rates.display.text(shown) == rates.display.text(expr) and "log2(C/ε)" in rates.display.text(expr)
    tex = rates.table(["constant", "optimal"], n=2, alpha=1).to_latex()
    assert r"\log_2" in tex and r"\log{\left(2 \right)}" not in tex and "log(2)" not in tex


# natural width of a LaTeX tabular, measured independently of moe_approx.rates.latex: each cell set by
# matplotlib's mathtext in Computer Modern at the table's font size (9 pt under \small), columns as wide
# as their widest cell, 2 x 6 pt between columns (\tabcolsep) and none at the edges (@{}), a
# \multicolumn cell widening the table by what it exceeds its columns by. mathtext follows TeX's
# rules with TeX's fonts; it differs from pdflatex by a few per cent (the layout keeps 3 % spare).
def _cell_pt(tex, size):
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    tex = re.sub(r"\\emph\{([^{}]*)\}", r"\1", tex).replace(r"\bigl", "").replace(r"\bigr", "")
    with matplotlib.rc_context({"mathtext.fontset": "cm"}):
        return MathTextParser("path").parse(tex, dpi=72, prop=FontProperties(family="cmr10", size=size))[0]


def _natural_width(tex):
    size = 9 if r"{\small" in tex else 10
    assert r"\begin{tabular}{@{}lll@{}}" in tex
    cols, spans = [0.0, 0.0, 0.0], []
    for line in (x[:-2].strip() for x in tex.splitlines() if x.rstrip().endswith(r"\\")):
        j = 0
        for cell in (c.strip() for c in line.split("&")):
            m = re.fullmatch(r"\\multicolumn\{(\d)\}\{[^{}]*(?:\{\})?[^{}]*\}\{(.*)\}", cell)
            if m:
                spans.append((j, int(m.group(1)), _cell_pt(m.group(2), size)))
                j += int(m.group(1))
            else:
                cols[j] = max(cols[j], _cell_pt(cell, size) if cell else 0.0)
                j += 1
        assert j == 3, line
    total = sum(cols) + 2 * 12.0
    extra = [w - (sum(cols[j:j + k]) + 12.0 * (k - 1)) for j, k, w in spans]
    return total + max([0.0] + extra)


@pytest.mark.parametrize("n,alpha,width", [(None, None, 246), (2, 1, 246), (1, 1, 246), (3, 0.5, 246), (2, 1, 345)])
def test_latex_table_fits_an_article_column(n, alpha, width, default_table):
    tab = default_table if n is None else rates.table("all", n=n, alpha=alpha)
    tex = tab.to_latex(width)
    assert _natural_width(tex) <= width
    assert r"\log_2" in tex and r"\log{\left(2 \right)}" not in tex
    body = [x for x in tex.splitlines() if x.rstrip().endswith(r"\\")]
    assert sum(x.startswith(r"\multicolumn{3}") for x in body) == len(tab.blocks(latex_rows=True))


def test_width_of_what_mathtext_cannot_set_is_estimated_by_the_stated_rule():
    from moe_approx.rates.latex import FONT_PT, width_pt

    assert width_pt(r"$\notacommand{ab}$") == 0.55 * FONT_PT * 2  # two visible characters
    assert 0 < width_pt("$x$") < width_pt("$x + y$")
