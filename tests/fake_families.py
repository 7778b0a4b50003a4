"""Test-only expert families with the interface of ``moe_approx.experts`` (no ``build``).

They exercise the generic code path of ``moe_approx.rates`` before the real cpwl and optimal
families are merged. Their closed forms are invented, shaped like docs/theory.md §4.2 and §4.4.
"""

import math
import types

import sympy as sp


def _family(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


# cpwl-like: (k+1)^n nodes, each costing (n + 2) parameters; error C (h/k)^alpha.
fake_cpwl = _family(
    "fake_cpwl",
    SIZE_DEFAULTS={"k": 2},
    depth=lambda n, activation="relu", k=2: sp.ceiling(sp.log(n + 1, 2)) + 2,
    width=lambda n, activation="relu", k=2: 2 * (n + 1) * (k + 1) ** n,
    num_params=lambda n, activation="relu", k=2: (n + 2) * (k + 1) ** n,
    num_nonzero=lambda n, activation="relu", k=2: (n + 1) * (k + 1) ** n,
    error_bound=lambda alpha, constant, side, n, k=2: constant * (side / k) ** alpha,
)

# optimal-like: A blocks of B cubes (M^n = A·B), P = 5A + 7B + 3n; error C h^a (AB)^(-a/n).
fake_optimal = _family(
    "fake_optimal",
    SIZE_DEFAULTS={"A": 1, "B": 1},
    depth=lambda n, activation="relu", A=1, B=1: B + 3,
    width=lambda n, activation="relu", A=1, B=1: n + 4,
    num_params=lambda n, activation="relu", A=1, B=1: 5 * A + 7 * B + 3 * n,
    num_nonzero=lambda n, activation="relu", A=1, B=1: 5 * A + 7 * B + 3 * n,
    error_bound=lambda alpha, constant, side, n, A=1, B=1: constant * side**alpha * (A * B) ** (-alpha / n),
)

# cpwl-like again, with closed forms that only take numbers (int(), math.pow): the numeric-fit path.
fake_numeric = _family(
    "fake_numeric",
    SIZE_DEFAULTS={"k": 2},
    depth=lambda n, activation="relu", k=2: math.ceil(math.log2(n + 1)) + 2,
    width=lambda n, activation="relu", k=2: int(2 * (n + 1) * (k + 1) ** n),
    num_params=lambda n, activation="relu", k=2: int((n + 2) * (k + 1) ** n),
    num_nonzero=lambda n, activation="relu", k=2: int((n + 1) * (k + 1) ** n),
    error_bound=lambda alpha, constant, side, n, k=2: constant * math.pow(side / k, alpha),
)
