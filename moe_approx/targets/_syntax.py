"""Formula strings to SymPy without running them (docs/theory.md §9).

SymPy's own string parsing evaluates the text as Python, so a formula string could run any code.
:func:`parse` never evaluates: it reads the text with Python's ``ast`` module (mode "eval"),
checks every node of the tree against an allow-list, and only then builds the SymPy expression
from the tree itself, calling nothing but the SymPy constructors named in :data:`FUNCTIONS`.

Allowed: the variables x1 … xn, the constants of :data:`CONSTANTS`, integer and decimal
literals (finite in float64), ``+ − * / ** ^`` (``^`` is a power), unary ``±``, parentheses,
calls of :data:`FUNCTIONS` with positional arguments, and, for Piecewise conditions, comparisons,
``& | ~``, True/False and the (expression, condition) pairs of ``Piecewise``. Anything else
(other names, attributes, subscripts, keyword arguments, lambdas, strings, comprehensions, ...)
is refused by name in a ValueError.
"""

from __future__ import annotations

import ast
import math
import sys

import sympy as sp

FUNCTIONS = {
    "sqrt": sp.sqrt, "cbrt": sp.cbrt, "real_root": sp.real_root, "abs": sp.Abs, "Abs": sp.Abs,
    "min": sp.Min, "Min": sp.Min, "max": sp.Max, "Max": sp.Max, "exp": sp.exp, "log": sp.log, "ln": sp.log,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "tanh": sp.tanh, "atan": sp.atan,
    "arctan": sp.atan, "erf": sp.erf, "sign": sp.sign, "Heaviside": sp.Heaviside,
    "Piecewise": sp.Piecewise, "And": sp.And, "Or": sp.Or, "Not": sp.Not,
}
"""The functions a formula string may call (those the interval layer encloses, with aliases)."""

CONSTANTS = {"pi": sp.pi, "E": sp.E, "e": sp.E}
"""The named constants a formula string may use."""

_BINARY = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b, ast.BitXor: lambda a, b: a**b,
    ast.BitAnd: lambda a, b: sp.And(a, b), ast.BitOr: lambda a, b: sp.Or(a, b),
}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a, ast.Invert: lambda a: sp.Not(a)}
_COMPARE = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge, ast.Eq: sp.Eq, ast.NotEq: sp.Ne}
_WHAT = {  # how a refused construct is named in the message
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.IfExp: "conditional expressions (use Piecewise)",
    ast.BoolOp: "'and'/'or' (use & and | in Piecewise conditions)", ast.NamedExpr: "assignment expressions",
    ast.JoinedStr: "f-strings", ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets",
    ast.Starred: "starred arguments", ast.Tuple: "tuples (except the (value, condition) pairs of Piecewise)",
    ast.Mod: "the operator %", ast.FloorDiv: "the operator //", ast.MatMult: "the operator @",
    ast.LShift: "the operator <<", ast.RShift: "the operator >>", ast.Not: "'not' (use ~ or Not)",
    ast.Is: "'is'", ast.IsNot: "'is not'", ast.In: "'in'", ast.NotIn: "'not in'",
}
_POWER_BITS = 1100  # |log2| of a number power beyond this is outside float64 (2^±1074 … 2^1024)


def allowed(n: int) -> str:
    """The allow-list in words, for error messages."""
    return (f"variables x1 … x{n}, constants {', '.join(CONSTANTS)}, numbers, + - * / ** ^, functions "
            f"{', '.join(FUNCTIONS)} (Piecewise conditions: comparisons, & | ~, True, False)")


class _Refused(ValueError):
    pass


def _segment(text: str, node) -> str:
    return ast.get_source_segment(text, node) or type(node).__name__


def _check_names(tree, names: set) -> None:
    """Raise _Refused at the first name that is neither allowed nor a function (attributes aside)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in names and node.id not in FUNCTIONS:
            raise _Refused(f"name {node.id!r} is not allowed")


def _check(text: str, node, in_piecewise: bool = False) -> None:
    """Raise _Refused at the first node outside the allow-list (names checked by _check_names)."""
    refuse = lambda what: _Refused(f"{what} {_segment(text, node)!r} is not allowed")  # noqa: E731
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise _Refused(f"function {node.id!r} must be called, as in {node.id}(x1)")
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, complex):
            raise _Refused(f"the complex number {_segment(text, node)!r} is not allowed (a target is real-valued)")
        if not isinstance(value, (bool, int, float)):
            raise refuse("the literal")
        if not isinstance(value, bool) and abs(value) > sys.float_info.max:
            raise _Refused(f"the number {_segment(text, node)} overflows float64 (largest finite {sys.float_info.max:.4g})")
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(text, node.left)
        _check(text, node.right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(text, node.operand)
    elif isinstance(node, ast.Compare):
        bad = [op for op in node.ops if type(op) not in _COMPARE]
        if bad:
            raise refuse(f"the comparison {_WHAT.get(type(bad[0]), type(bad[0]).__name__)} in")
        for part in (node.left, *node.comparators):
            _check(text, part)
    elif isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise refuse("calling anything but the functions listed:")
        if node.keywords:
            raise _Refused(f"keyword arguments ({_segment(text, node.keywords[0])!r}) are not allowed")
        for arg in node.args:
            _check(text, arg, in_piecewise=node.func.id == "Piecewise")
    elif isinstance(node, ast.Tuple) and in_piecewise and len(node.elts) == 2:
        for part in node.elts:
            _check(text, part)
    else:
        operator = getattr(node, "op", None)
        what = _WHAT.get(type(operator)) or _WHAT.get(type(node)) or f"the construct {type(node).__name__}"
        raise refuse(what)


def _number_power(base, expo):
    """base ** expo for SymPy numbers, refused where the result is outside float64's range (SymPy
    would compute 10**10**10 exactly)."""
    if base.is_zero or expo.is_zero or abs(base) == 1:
        return base**expo
    log2 = (math.log2(abs(base.p)) - math.log2(base.q) if isinstance(base, sp.Rational)
            else float(sp.log(abs(base), 2).evalf(20)))
    expo_size = float(abs(expo)) if abs(expo) < 2**64 else math.inf
    if expo_size * abs(log2) > _POWER_BITS:
        flow = "overflows" if (log2 > 0) == bool(expo > 0) else "underflows"
        raise _Refused(f"the number {base}**{expo} {flow} float64 (its magnitude is beyond 2^±{_POWER_BITS})")
    return base**expo


def _build(text: str, node, names: dict):
    """The SymPy object of a checked node (no Python evaluation of the text)."""
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node.value, int):
            return sp.Integer(node.value)
        return sp.Float(_segment(text, node).replace("_", ""))  # the decimal as typed, not its rounding
    if isinstance(node, ast.BinOp):
        left, right = _build(text, node.left, names), _build(text, node.right, names)
        if isinstance(node.op, (ast.Pow, ast.BitXor)) and isinstance(left, sp.Number) and isinstance(right, sp.Number):
            return _number_power(left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_build(text, node.operand, names))
    if isinstance(node, ast.Compare):
        parts = [_build(text, p, names) for p in (node.left, *node.comparators)]
        return sp.And(*[_COMPARE[type(op)](a, b) for op, a, b in zip(node.ops, parts, parts[1:])])
    if isinstance(node, ast.Tuple):
        return tuple(_build(text, p, names) for p in node.elts)
    return FUNCTIONS[node.func.id](*[_build(text, a, names) for a in node.args])


def parse(text: str, symbols) -> sp.Basic:
    """The SymPy object of the formula ``text`` in ``symbols`` (x1 … xn), built without evaluating it.

    Raises ValueError naming the first construct outside the allow-list (module docstring), or
    saying why the text is not a formula.
    """
    if not isinstance(text, str):
        raise TypeError(f"formula must be a str, got {type(text).__name__}")
    names = {s.name: s for s in symbols} | CONSTANTS
    try:
        tree = ast.parse(text.strip(), mode="eval")
        _check_names(tree, set(names))
        _check(text.strip(), tree.body)
        return _build(text.strip(), tree.body, names)
    except _Refused as err:
        raise ValueError(f"formula {text!r}: {err}; allowed: {allowed(len(symbols))}") from None
    except RecursionError:
        raise ValueError(f"formula {text!r} is nested too deeply") from None
    except (SyntaxError, ValueError, TypeError, MemoryError) as err:  # Python's parser, SymPy's constructors
        raise ValueError(f"cannot parse formula {text!r}: {type(err).__name__}: {err}") from None
