"""Input checks and family lookup for the rates package (errors name the argument and range)."""

from __future__ import annotations

import functools
import math
import warnings
from fractions import Fraction

import numpy as np
import sympy as sp

from .. import experts
from .symbols import _INTERFACE, PARAM_COUNT, alpha, n

# --- validation -------------------------------------------------------------------------------
def _rational(x, name):
    """A user number as an exact SymPy Rational (floats read as their decimal repr: 1e-3 = 1/1000)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, Fraction, sp.Rational, sp.Float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    if isinstance(x, (float, sp.Float, np.floating)):
        if not math.isfinite(x):
            raise ValueError(f"{name} must be finite, got {x!r}")
        return sp.Rational(repr(float(x)))
    return sp.Rational(x.numerator, x.denominator) if isinstance(x, Fraction) else sp.Rational(x)


def _check_eps(value):
    e = _rational(value, "eps")
    if e <= 0:
        raise ValueError(f"eps must be > 0, got {value!r}")
    return e


def _check_n(value, allow_symbol=False):
    if value is None and allow_symbol:
        return n
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"n must be an integer >= 1{' or None (symbolic)' if allow_symbol else ''}, got {value!r}")
    return int(value)


def _check_alpha(value, allow_symbol=False):
    if value is None and allow_symbol:
        return alpha
    a = _rational(value, "alpha")
    if not 0 < a <= 1:
        raise ValueError(f"alpha must be in (0, 1]{' or None (symbolic)' if allow_symbol else ''}, got {value!r}")
    return a


def _check_constant(value):
    c = _rational(value, "C")
    if c <= 0:
        raise ValueError(f"C must be > 0, got {value!r}")
    return c


def _resolve(family):
    """(name, module) for a family name or a module-like object with the family interface."""
    if isinstance(family, str):
        module = experts.get(family)
    else:
        module = family
    missing = [a for a in _INTERFACE if not hasattr(module, a)]
    if missing:
        raise TypeError(f"family must be a name in {list(experts.FAMILY_NAMES)} or a module with {list(_INTERFACE)}; missing {missing}")
    return getattr(module, "__name__", repr(module)).rsplit(".", 1)[-1], module


def _family_list(family):
    """``"all"``: every family for (α, C)-Hölder targets (families with ``NEEDS_SMOOTHNESS`` read
    (α, C) as their top derivatives' and are left out; name them to include them)."""
    if isinstance(family, str) and family == "all":
        return experts.holder_families()
    if isinstance(family, (list, tuple)):
        return list(family)
    return [family]


def _params(module, n_val, activation, **sizes):
    """One expert's parameter count as the rates count it (:data:`PARAM_COUNT`)."""
    return getattr(module, PARAM_COUNT)(n_val, activation, **sizes)


def _renamed_keywords(**renamed):
    """Accept the old keyword names (``eps_`` → ``eps``, ...) with a DeprecationWarning."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            used = [old for old in renamed if old in kwargs]
            for old in used:
                if renamed[old] in kwargs:
                    raise TypeError(f"{fn.__name__}() got both {old!r} (deprecated) and {renamed[old]!r}")
                kwargs[renamed[old]] = kwargs.pop(old)
            if used:
                warnings.warn(f"{fn.__name__}(): deprecated keyword(s) {', '.join(map(repr, used))}; use "
                              f"{', '.join(repr(renamed[o]) for o in used)}", DeprecationWarning, stacklevel=2)
            return fn(*args, **kwargs)

        return inner

    return wrap
