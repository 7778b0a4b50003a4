"""Rates derived from the constructions (docs/theory.md §6–7), in SymPy.

Everything family-specific comes from the family module (``experts.get(name)``, interface in
``experts/__init__.py``): ``num_params``, ``num_nonzero``, ``depth``, ``width`` and
``error_bound`` are called with SymPy symbols, or with numbers where a family's closed forms do
not take symbols (then the result says ``method="numeric fit"``). No count formula is retyped here.

MoE model (docs/theory.md §2, §6): K cells per side, L = K^n experts of one architecture, side
h = 1/K; MoE error = ``error_bound(alpha, C, 1/K, n, **size)``; active parameters = one expert's
parameter count + the router thresholds on one root-to-leaf path; total = L·(parameter count) + all
router thresholds (:func:`router_params`).

Parameter count: the family's ``num_nonzero`` (:data:`PARAM_COUNT`), the count of Petersen &
Voigtlaender 2018 that docs/theory.md §2 and §6 use (the constant expert has one parameter).
Stored dense counts (``num_params``) of hat-sum experts grow like (k+1)^(n+1) or faster because
their hidden layers are block-diagonal matrices; the nonzero count grows like (k+1)^n, the count
the rates of §6 are about. ``MixtureOfExperts.total_nonzero`` measures the same count.

Modules: :mod:`~moe_approx.rates.symbols` (the SymPy symbols ``eps``, ``r``, ``C``, ``alpha``,
``n``, ``delta``, ``h``, ``K``), :mod:`~moe_approx.rates.counts` (symbolic counts of one expert
and of the router), :mod:`~moe_approx.rates.asymptotics` (growth path, exponents of 1/ε),
:mod:`~moe_approx.rates.designs` (integer designs, the budget solver), :mod:`~moe_approx.rates.vc`
(VC dimension, sample complexity, the paper's claims), :mod:`~moe_approx.rates.tables` (tables,
LaTeX). Every public name is re-exported here: use ``ma.rates.design``, ``ma.rates.table``, ...
"""

from .asymptotics import NUMERIC_AT, QUANTITIES, NeedsNumbers, Rate, eps_exponent, r_range, rate
from .counts import ClosedForms, RouterCost, closed_forms, router_params, size_symbols
from .designs import BudgetResult, Design, budget_solve, cells_for, design
from .symbols import BYTES_PER_PARAM, PARAM_COUNT, C, K, alpha, delta, eps, h, n, r
from .display import tidy
from .tables import P_sym, RateTable, lambdify, rates_cli, table, to_latex
from .vc import paper_claims, sample_complexity, vc_bhlm, vc_momlp

__all__ = [
    "BYTES_PER_PARAM", "NUMERIC_AT", "PARAM_COUNT", "QUANTITIES", "C", "K", "P_sym", "alpha", "delta", "eps", "h", "n", "r",
    "BudgetResult", "ClosedForms", "Design", "NeedsNumbers", "Rate", "RateTable", "RouterCost",
    "budget_solve", "cells_for", "closed_forms", "design", "eps_exponent", "lambdify", "paper_claims", "r_range",
    "rate", "rates_cli", "router_params", "sample_complexity", "size_symbols", "table", "tidy", "to_latex", "vc_bhlm",
    "vc_momlp",
]
