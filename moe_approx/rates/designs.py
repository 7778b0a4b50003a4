"""Integer designs and the budget solver (docs/theory.md §2, §6).

A design is the concrete MoE a rate formula describes: expert sizes, K cells per side
(L = K^n experts), and its exact counts. Active (loaded) parameters = one expert's parameters +
the router thresholds on one root-to-leaf path; total = L·(expert parameters) + all thresholds.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import experts
from .._checks import check_int
from ..mlp import check_activation
from ._validate import _check_alpha, _check_constant, _check_eps, _check_n, _family_list, _params, _renamed_keywords, _resolve
from .asymptotics import _check_r, _ray_sizes, rate
from .counts import RouterCost, router_params
from .symbols import BYTES_PER_PARAM
from .vc import vc_momlp



# --- concrete designs -------------------------------------------------------------------------
def _le(x, y) -> bool:
    """x <= y, decided exactly by SymPy when the floats are within 1e-9 (relative) of a tie."""
    fx, fy = float(x), float(y)
    if abs(fx - fy) > 1e-9 * max(abs(fx), abs(fy)):
        return fx <= fy
    d = sp.simplify(sp.sympify(x) - sp.sympify(y))
    return bool(d.is_zero or d.evalf(100) < 0)


def _error(module, a_val, c_val, K_val, n_val, sizes):
    """error_bound on cells of side 1/K: exact SymPy number where the family allows, else float."""
    try:
        return sp.sympify(module.error_bound(a_val, c_val, sp.Rational(1, K_val), n_val, **sizes))
    except Exception:
        return float(module.error_bound(float(a_val), float(c_val), 1.0 / K_val, n_val, **sizes))


_float = functools.lru_cache(maxsize=256)(float)  # SymPy Rational -> float goes through mpmath: slow


def _reaches(module, a_val, c_val, K_val, n_val, sizes, e) -> bool:
    """error_bound on cells of side 1/K <= ε: in floats, exactly (:func:`_le`) within 1e-9 of a tie."""
    x, fe = float(module.error_bound(_float(a_val), _float(c_val), 1.0 / K_val, n_val, **sizes)), _float(e)
    if abs(x - fe) > 1e-9 * fe:
        return x <= fe
    return _le(_error(module, a_val, c_val, K_val, n_val, sizes), e)


def _min_cells(module, e, n_val, a_val, c_val, sizes, K_cap=2**200, reaching=None):
    """Smallest K with error_bound(α, C, 1/K, n, **sizes) <= ε (the bound is nondecreasing in the side);
    ``None`` if no K <= K_cap reaches ε. ``reaching``: a K known to reach ε (gallop down from it)."""
    if reaching is not None:
        return reaching - _last_true(lambda j: _reaches(module, a_val, c_val, reaching - j, n_val, sizes, e), 0, reaching - 1)
    else:
        hi = 1
        while not _reaches(module, a_val, c_val, hi, n_val, sizes, e):
            if hi >= K_cap:
                return None
            hi = min(2 * hi, K_cap)
        lo = hi // 2  # fails (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _reaches(module, a_val, c_val, mid, n_val, sizes, e) else (mid, hi)
    return hi


@dataclass(frozen=True)
class Design:
    """An integer MoE design: sizes, K cells per side, and its exact counts (docs/theory.md §2, §6).

    Attributes
    ----------
    family, activation : str
    sizes : dict
        The expert's size keywords.
    cells_per_side : int
        K; the grid has ``num_experts = K**n`` cells, one expert each.
    expert_params : int
        One expert's parameters (``PARAM_COUNT``: nonzero).
    router : RouterCost
    active_params, total_params : int
        ``expert_params + router.active`` and ``num_experts·expert_params + router.total``.
    depth, width : int
        Of one expert.
    error_bound : float
        The family's proven bound on cells of side 1/K (<= eps for designs of :func:`design`).
    vc_momlp : int
        L·max{nL, JW} (docs/theory.md §7; logs and constants omitted).
    active_bytes : int
        8 bytes per float64 active parameter.
    """

    family: str
    activation: str
    sizes: dict
    cells_per_side: int
    num_experts: int
    expert_params: int
    router: RouterCost
    active_params: int
    total_params: int
    depth: int
    width: int
    error_bound: float
    vc_momlp: int

    @property
    def active_bytes(self) -> int:
        return BYTES_PER_PARAM * self.active_params


def _design(name, module, sizes, K_val, n_val, a_val, c_val, activation, m=1) -> Design:
    P = m * int(_params(module, n_val, activation, **sizes))  # m outputs: m experts in parallel, one router
    J, W = int(module.depth(n_val, activation, **sizes)), m * int(module.width(n_val, activation, **sizes))
    router = router_params(n_val, K_val)
    L = K_val**n_val
    return Design(name, activation, dict(sizes), K_val, L, P, router, P + router.active, L * P + router.total, J, W,
                  float(module.error_bound(float(a_val), float(c_val), 1.0 / K_val, n_val, **sizes)), int(vc_momlp(L, n_val, J, W)))


@_renamed_keywords(eps_="eps")
def cells_for(family, eps, n, alpha, C=1, **size) -> int:
    """The smallest K (cells per side) whose MoE error bound is <= eps with experts of ``size``.

    Parameters
    ----------
    family : str or module
    eps : float or Fraction
        Target uniform error, > 0 (read exactly).
    n : int
    alpha : float
        Hölder exponent in (0, 1].
    C : float, optional
        Hölder constant, > 0 (default 1).
    **size : int
        The family's size keywords (defaults: ``SIZE_DEFAULTS``).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For invalid arguments, or when no K <= 2^200 reaches eps.

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.cells_for("cpwl", 1e-3, 2, 1, k=9)  # C (h/k)^alpha <= eps: K = ceil(1000/9)
    112
    """
    name, module = _resolve(family)
    e, n_val, a_val, c_val = _check_eps(eps), _check_n(n), _check_alpha(alpha), _check_constant(C)
    sizes = experts.check_size(module, size)
    K_val = _min_cells(module, e, n_val, a_val, c_val, sizes)
    if K_val is None:
        raise ValueError(f"{name} with sizes {sizes} does not reach eps={eps} on any grid with K <= 2^200")
    return K_val


@_renamed_keywords(eps_="eps", r_="r")
def design(family, eps, r, n, alpha, C=1, activation="relu", m=1) -> Design:
    """The integer design at trade-off r (docs/theory.md §6).

    Sizes on the family's growth path with the largest t such that num_nonzero <= ε^(−r) (t = 1 if
    none), then the smallest K whose error bound reaches ε.

    Parameters
    ----------
    family : str or module
    eps : float or Fraction
        Target uniform error, > 0 (read exactly: 1e-3 is 1/1000).
    r : float or Fraction
        Trade-off in [0, r_max] (:func:`r_range`): active parameters ≍ ε^(−r).
    n : int
    alpha : float
        Hölder exponent in (0, 1].
    C : float, optional
        Hölder constant, > 0 (default 1).
    activation : {"relu", "prelu"}
    m : int, default 1
        Outputs of a vector target whose components share (α, C) (docs/theory.md §5, vector targets): the
        same K and sizes, experts of m outputs in parallel (nonzero count and width ×m, router shared).

    Returns
    -------
    Design

    Raises
    ------
    ValueError
        For eps <= 0, r outside [0, r_max], m < 1, n < 1, alpha outside (0, 1], C <= 0, an unknown family
        or activation.
    TypeError
        For a non-numeric eps, r, alpha or C.

    Examples
    --------
    >>> from moe_approx import rates
    >>> d = rates.design("cpwl", eps=1e-3, r=1, n=2, alpha=1)
    >>> d.sizes, d.cells_per_side, d.expert_params, d.active_params, d.error_bound <= 1e-3
    ({'k': 9}, 112, 994, 1008, True)
    """
    name, module = _resolve(family)
    e, n_val, a_val, c_val = _check_eps(eps), _check_n(n), _check_alpha(alpha), _check_constant(C)
    rt = rate(module, n_val, a_val, activation)
    rr = _check_r(r, rt)
    weights = tuple(rt.growth.values()) if rt.growth else None
    sizes = lambda t: _ray_sizes(module, weights, t) if weights else dict(module.SIZE_DEFAULTS)
    budget = e**-rr
    fits = lambda t: _le(sp.Integer(_params(module, n_val, activation, **sizes(t))), budget)
    t_val = 1
    if weights and fits(2):
        hi = 2
        while fits(2 * hi):
            hi *= 2
        lo, hi = hi, 2 * hi  # fits(lo), not fits(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        t_val = lo
    K_val = _min_cells(module, e, n_val, a_val, c_val, sizes(t_val))
    if K_val is None:
        raise ValueError(f"{name} with sizes {sizes(t_val)} does not reach eps={eps} on any grid with K <= 2^200")
    return _design(name, module, sizes(t_val), K_val, n_val, a_val, c_val, activation, check_int(m, "m"))


# --- budget solver ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetResult:
    """The answer of :func:`budget_solve` (docs/theory.md §6).

    Attributes
    ----------
    eps : sympy.Rational
    budget_params : int
        The budget in parameters (bytes // 8 for ``unit="bytes"``).
    objective : str
    best : Design or None
        The best design over all families; ``None`` when nothing fits (:attr:`feasible` is False).
    per_family : dict
        Family → its best :class:`Design` (families that fit).
    reasons : dict
        Family → why it does not fit.
    scored : dict
        Family → how many (sizes, K) designs were scored (the frontier, not the grid).
    """

    eps: object
    budget_params: int
    objective: str
    best: Design | None
    per_family: dict
    reasons: dict = field(default_factory=dict)
    scored: dict = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.best is not None

    @property
    def reason(self) -> str:
        return "" if self.feasible else "; ".join(f"{k}: {v}" for k, v in self.reasons.items())


_K_CAP = 2**200


def _last_true(pred, lo, hi):
    """Largest x in [lo, hi] with pred(x), for pred true at lo and nonincreasing (True ... False)."""
    step = 1
    while lo + step <= hi and pred(lo + step):  # gallop, then bisect
        lo, step = lo + step, 2 * step
    hi = min(hi, lo + step)
    while hi > lo:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if pred(mid) else (lo, mid - 1)
    return lo


def _safe(fn):
    """fn(x), or None where the family rejects the size (beyond its range, e.g. yarotsky's degree)."""
    try:
        return fn()
    except (ValueError, OverflowError):
        return None


def _frontier(module, e, n_val, a_val, c_val, activation, cap, outer, inner, limit):
    """The (x, K) Pareto frontier in the innermost size keyword ``inner``, outer sizes fixed.

    With x ↦ num_nonzero nondecreasing and x ↦ error_bound nonincreasing, K(x) (the smallest K
    reaching ε) is nonincreasing; for each value K takes, the smallest such x has the fewest
    parameters (and the smallest depth and width), so it dominates every other x with that K. The
    frontier is walked from one K value to the next: the next point is the smallest x' reaching ε
    on K − 1 cells per side, found by bisection. Cost: (number of K values taken) × log(x range),
    never the number of sizes that fit the budget.
    """
    sizes = lambda x: {**outer, inner: x}
    fits = lambda x: (lambda P: P is not None and P <= cap)(_safe(lambda: int(_params(module, n_val, activation, **sizes(x)))))
    if not fits(1):
        return []
    x_max = _last_true(fits, 1, limit)
    reach = lambda K_val, x: _reaches(module, a_val, c_val, K_val, n_val, sizes(x), e)
    first_reaching = lambda K_val, lo, hi: _last_true(lambda x: not reach(K_val, x), lo, hi) + 1  # reach(K, lo) false
    if reach(_K_CAP, 1):
        x = 1
    elif reach(_K_CAP, x_max):
        x = first_reaching(_K_CAP, 1, x_max)
    else:
        return []
    points, reaching = [], None
    while True:
        K_val = _min_cells(module, e, n_val, a_val, c_val, sizes(x), reaching=reaching)
        points.append((x, K_val))
        if K_val == 1 or x == x_max or not reach(K_val - 1, x_max):
            return points
        x, reaching = first_reaching(K_val - 1, x, x_max), K_val - 1


def _outer_sizes(module, n_val, activation, cap, names, limits, max_candidates):
    """Every assignment of the outer size keywords ``names`` whose smallest expert (inner = 1) fits.

    A keyword with a limit (``SIZE_LIMITS``) is enumerated up to it, skipping values that do not
    fit (counts need not be monotone in it: the optimal family's count is not monotone in B); one
    without a limit stops at the first value that does not fit (counts assumed nondecreasing)."""
    rest = {s: 1 for s in module.SIZE_DEFAULTS}
    count = lambda sizes: _safe(lambda: int(_params(module, n_val, activation, **{**rest, **sizes})))
    out = [{}]
    for name in names:
        grown = []
        for fixed in out:
            for v in itertools.count(1):
                if v > limits.get(name, math.inf):
                    break
                P = count({**fixed, name: v})
                if P is None or (P > cap and name not in limits):
                    break
                if P > cap:
                    continue
                grown.append({**fixed, name: v})
                if len(grown) > max_candidates:
                    raise ValueError(f"more than {max_candidates} combinations of the size keywords {names} of "
                                     f"{getattr(module, '__name__', module)} fit the budget; lower the budget or raise max_candidates")
        out = grown
    return [o for o in out if (lambda P: P is not None and P <= cap)(count(o))]


def _score(module, n_val, activation, objective, sizes, P, K_val):
    router = router_params(n_val, K_val)
    L = K_val**n_val
    total = L * P + router.total
    if objective == "vc":
        JW = int(module.depth(n_val, activation, **sizes)) * int(module.width(n_val, activation, **sizes))
        return (L * max(n_val * L, JW), total, P + router.active)
    return (total, P + router.active)


@_renamed_keywords(eps_="eps")
def budget_solve(eps, budget, *, n, alpha, C=1, unit="params", families="all", activation="relu",
                 objective="total", max_candidates=100_000, progress=False) -> BudgetResult:
    """The best MoE design with error bound <= eps and loaded (active) parameters <= budget.

    Minimises total parameters (``objective="total"``, ties: fewer active parameters) or the
    paper's VC bound L·max{nL, JW} (``"vc"``, ties: total, then active) over every family and
    every size (docs/theory.md §6, §7). Exact, without enumerating the sizes that fit: outer size
    keywords (all but a family's first) are enumerated up to the budget or the family's optional
    ``SIZE_LIMITS`` (the optimal family's B <= 27: the float64 limit of its bit extraction,
    docs/theory.md §4.4, so every answer can be built); the first is searched along its
    (parameters, K) Pareto frontier by galloping and bisection (:func:`_frontier`). This is exact
    when, in the first size keyword, num_nonzero, depth and width are nondecreasing and
    error_bound nonincreasing (tests/test_rates.py checks this for the families of
    :mod:`moe_approx.experts` on a range of sizes, and compares the answers with brute force).
    Cost: about 2·sqrt(K) designs per search, K the cells per side of the smallest expert.

    Parameters
    ----------
    eps : float or Fraction
        Target uniform error, > 0 (read exactly: 1e-3 is 1/1000).
    budget : int
        Loaded-memory budget, >= 1, in parameters (``unit="params"``) or bytes (``unit="bytes"``,
        8 per float64 parameter: the budget in parameters is ``budget // 8``).
    n : int
        Input dimension, >= 1.
    alpha : float
        Hölder exponent in (0, 1].
    C : float, optional
        Hölder constant, > 0 (default 1).
    unit : {"params", "bytes"}
    families : "all", str, module or list
        ``"all"``: every family for (α, C)-Hölder targets (``experts.holder_families()``).
    activation : {"relu", "prelu"}
    objective : {"total", "vc"}
    max_candidates : int
        Refuse (``ValueError``) when more combinations of the outer size keywords fit the budget.
    progress : bool
        A tqdm bar over the searches (one per family and combination of outer size keywords).

    Returns
    -------
    BudgetResult
        ``best`` (a :class:`Design` or ``None``), ``per_family`` (the best design of each family
        that fits), ``reasons`` (why a family does not fit), ``scored`` (designs scored per family).

    Raises
    ------
    ValueError
        For eps <= 0, a budget < 1, n < 1, alpha outside (0, 1], C <= 0, an unknown unit,
        objective, activation or family.
    TypeError
        For a non-numeric eps, alpha or C, or an object that is not a family.

    Examples
    --------
    >>> import moe_approx as ma
    >>> res = ma.rates.budget_solve(1e-2, 10**4, n=2, alpha=1, families=["constant", "cpwl"])
    >>> d = res.best  # 50 x 50 one-parameter experts: the fewest parameters in total
    >>> d.family, d.cells_per_side, d.total_params, d.active_params, d.error_bound <= 1e-2
    ('constant', 50, 2598, 13, True)
    >>> vc = ma.rates.budget_solve(1e-2, 10**4, n=2, alpha=1, families=["constant", "cpwl"], objective="vc").best
    >>> vc.family, vc.sizes, vc.cells_per_side, vc.active_params <= 10**4
    ('cpwl', {'k': 25}, 4, True)
    """
    e, n_val, a_val, c_val = _check_eps(eps), _check_n(n), _check_alpha(alpha), _check_constant(C)
    if unit not in ("params", "bytes"):
        raise ValueError(f"unit must be 'params' or 'bytes', got {unit!r}")
    if objective not in ("total", "vc"):
        raise ValueError(f"objective must be 'total' or 'vc', got {objective!r}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be an integer >= 1, got {budget!r}")
    check_activation(activation)
    cap = int(budget) // BYTES_PER_PARAM if unit == "bytes" else int(budget)
    from tqdm.auto import tqdm

    per_family, reasons, scored, searches = {}, {}, {}, []
    for fam in _family_list(families):
        name, module = _resolve(fam)
        names = list(module.SIZE_DEFAULTS)
        limits = dict(getattr(module, "SIZE_LIMITS", {}))
        searches.append((name, module, names, limits, _outer_sizes(module, n_val, activation, cap, names[:0:-1], limits, max_candidates)))
    bar = tqdm(total=sum(max(1, len(s[-1])) for s in searches), desc="budget_solve", unit="search", disable=not progress)
    for name, module, names, limits, outers in searches:
        smallest = {s: 1 for s in names}
        candidates = []  # (sizes, K) on the frontier; outer keywords vary slowest, the last slowest
        any_fit = bool(outers)
        if any_fit and not names:
            K_val = _min_cells(module, e, n_val, a_val, c_val, {})
            candidates = [({}, K_val)] if K_val is not None else []
        elif any_fit:
            for outer in outers:
                for x, K_val in _frontier(module, e, n_val, a_val, c_val, activation, cap, outer, names[0],
                                          limits.get(names[0], _K_CAP)):
                    candidates.append(({s: {**outer, names[0]: x}[s] for s in names}, K_val))
                bar.update()
        bar.update(0 if names and any_fit else 1)
        if not any_fit:
            P1 = _params(module, n_val, activation, **smallest)
            reasons[name] = (f"the smallest expert {smallest} has {P1} parameters > budget {cap}" if len(names) <= 1 else
                             f"no expert has <= {cap} parameters ({smallest} has {P1}; searched {names[:0:-1]} "
                             f"up to {limits or 'the budget'})")
            continue
        best, closest = None, None
        for sizes, K_val in candidates:
            P = int(_params(module, n_val, activation, **sizes))
            active = P + router_params(n_val, K_val).active
            if active > cap:
                if closest is None or active < closest[0]:
                    closest = (active, P, K_val, sizes)
                continue
            score = _score(module, n_val, activation, objective, sizes, P, K_val)
            if best is None or score < best[0]:
                best = (score, sizes, K_val)
        scored[name] = len(candidates)
        if best is not None:
            per_family[name] = (best[0], _design(name, module, best[1], best[2], n_val, a_val, c_val, activation))
        elif closest is not None:
            need, P, K_val, sizes = closest
            reasons[name] = (f"reaching eps needs at best {need} loaded parameters > budget {cap} (expert {sizes}: {P} "
                             f"params, K={K_val} cells per side: router {need - P} thresholds)")
        else:
            reasons[name] = f"no expert with <= {cap} parameters reaches eps on any grid with K <= 2^200"
    bar.close()
    overall = min(per_family.values(), key=lambda x: x[0])[1] if per_family else None
    return BudgetResult(e, cap, objective, overall, {k: v[1] for k, v in per_family.items()}, reasons, scored)
