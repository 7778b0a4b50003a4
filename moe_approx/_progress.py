"""Whether to show a progress bar when the caller did not say (tqdm.auto renders it; see DESIGN)."""

from __future__ import annotations

import sys


def _in_jupyter() -> bool:
    """True inside a Jupyter kernel (tqdm.auto then draws an ipywidgets bar in the notebook)."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def default_progress(progress=None) -> bool:
    """``progress`` when it is True or False; for ``None``, True only when stderr is an interactive
    terminal or the code runs in a Jupyter kernel (so scripts, pipes, CI and tests stay quiet).

    Parameters
    ----------
    progress : bool or None

    Returns
    -------
    bool

    Raises
    ------
    TypeError
        For anything but True, False or None.

    Examples
    --------
    >>> default_progress(False), default_progress(True)
    (False, True)
    """
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty is not None and isatty()) or _in_jupyter()
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (automatic), got {type(progress).__name__}")
    return progress
