"""Expert families: one module per explicit construction (THEORY.md §4).

Every family module provides the same small interface, which ``build_moe`` and ``rates`` use:

- ``SIZE_DEFAULTS``: dict of the family's size keywords and their defaults (e.g. ``{"k": 2}``).
- ``build(target, lo, hi, *, activation, **size) -> MLP``: the experts of all cells at once,
  a stack with batch shape ``(L,)``; cell ``i`` is the box ``[lo[i], hi[i]]`` (arrays (L, n)).
  Vectorized over cells: no Python loop per cell.
- ``depth(n, activation, **size)``, ``width(...)``, ``num_params(...)``, ``num_nonzero(...)``:
  closed forms of one expert, written so they accept SymPy symbols where the construction allows
  (the single source of truth for ``rates``).
- ``error_bound(alpha, constant, side, n, **size)``: the proven uniform error on a cell of
  ∞-diameter ``side`` for an (alpha, constant)-Hölder target, with its source.
"""

from importlib import import_module

FAMILY_NAMES = ("constant", "cpwl", "optimal")


def get(name: str):
    """The family module ``name``; raises ``ValueError`` for an unknown name."""
    if name not in FAMILY_NAMES:
        raise ValueError(f"unknown expert family {name!r}; accepted: {list(FAMILY_NAMES)}")
    return import_module(f"{__name__}.{name}")


def check_size(family, size: dict) -> dict:
    """Size keywords of ``family`` with defaults filled in; each an integer >= 1."""
    unknown = set(size) - set(family.SIZE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown size keyword(s) {sorted(unknown)}; accepted: {sorted(family.SIZE_DEFAULTS)}")
    full = {**family.SIZE_DEFAULTS, **size}
    for key, value in full.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"size {key} must be an integer >= 1, got {value!r}")
    return full
