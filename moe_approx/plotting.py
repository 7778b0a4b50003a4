"""Figures in one house style: log-log convergence plots readable in a two-column paper.

Chebfun's convention: log error against log size, the theoretical slope drawn beside the
measured one.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {
    "figure.figsize": (3.4, 2.6),  # one column of a two-column paper, in inches
    "figure.dpi": 150,
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 6.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.bbox": "tight",
}


def figure(ncols: int = 1, **kwargs):
    """A new figure and axes in the house style.

    Parameters
    ----------
    ncols : int, default 1
        Panels side by side.
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots`.

    Returns
    -------
    tuple
        (figure, axes).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from moe_approx import plotting
    >>> fig, ax = plotting.figure()
    >>> plt.close(fig)
    """
    with plt.rc_context(STYLE):
        width = STYLE["figure.figsize"][0] * ncols
        return plt.subplots(1, ncols, figsize=(width, STYLE["figure.figsize"][1]), **kwargs)


def panels(rows, key, reverse=False):
    """One panel per distinct ``row[key]``: the figure, its axes, and (ax, value, rows) per panel.

    Parameters
    ----------
    rows : list of dict
        Tidy rows.
    key : str
        The column that selects the panel.
    reverse : bool, default False
        Panel order.

    Returns
    -------
    tuple
        (figure, axes, [(ax, value, rows of that value), ...]).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from moe_approx import plotting
    >>> fig, axes, groups = plotting.panels([{"n": 1}, {"n": 2}, {"n": 1}], "n")
    >>> [(value, len(rows)) for _, value, rows in groups]
    [(1, 2), (2, 1)]
    >>> plt.close(fig)
    """
    values = sorted({r[key] for r in rows}, reverse=reverse)
    fig, axes = figure(len(values), squeeze=False)
    return fig, axes[0], [(ax, v, [r for r in rows if r[key] == v]) for ax, v in zip(axes[0], values)]


def fit_slope(x, y) -> float:
    """Least-squares slope of log y against log x (positive finite pairs only; NaN if fewer than 2).

    Parameters
    ----------
    x, y : array_like

    Returns
    -------
    float

    Examples
    --------
    >>> from moe_approx import plotting
    >>> round(plotting.fit_slope([1, 2, 4, 8], [1, 0.25, 0.0625, 0.015625]), 12)
    -2.0
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def rate_plot(ax, size, lower, upper=None, theory_slope=None, label="", marker="o", color=None):
    """Measured error (bracket [lower, upper] as error bars) against size, with a theoretical slope line.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    size, lower : array_like
        Sizes and lower bounds.
    upper : array_like, optional
        Upper bounds (certified brackets); default ``lower``.
    theory_slope : float, optional
        Draw a reference line of this slope through the first point.
    label : str
    marker : str
    color : optional

    Returns
    -------
    float
        The fitted slope of the bracket's geometric midpoint.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from moe_approx import plotting
    >>> fig, ax = plotting.figure()
    >>> round(plotting.rate_plot(ax, [1, 2, 4], [0.5, 0.25, 0.125], theory_slope=-1.0), 12)
    -1.0
    >>> plt.close(fig)
    """
    size, lower = np.asarray(size, float), np.asarray(lower, float)
    upper = lower if upper is None else np.asarray(upper, float)
    mid = np.sqrt(lower * upper) if np.all(upper < np.inf) else lower
    fitted = fit_slope(size, mid)
    with plt.rc_context(STYLE):
        line = ax.errorbar(size, mid, yerr=[mid - lower, np.where(np.isfinite(upper), upper - mid, 0)], marker=marker,
                           linestyle="-", capsize=2, color=color, label=f"{label} (fit {fitted:+.2f})")
        if theory_slope is not None and len(size):
            ref = mid[0] * (size / size[0]) ** theory_slope
            ax.plot(size, ref, linestyle="--", color=line[0].get_color(), alpha=0.6,
                    label=f"theory {theory_slope:+.2f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
    return fitted


def cells(ax, partition, **style):
    """Draw the cell boundaries of a partition with n <= 2: vertical lines at the interior faces
    (n = 1) or one rectangle outline per cell (n = 2); ``style`` overrides the default thin grey.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    partition : GridPartition, DyadicPartition or PrototypePartition
        With n <= 2.
    **style
        Matplotlib collection properties.

    Returns
    -------
    matplotlib.collections.Collection

    Raises
    ------
    ValueError
        If n > 2.

    Examples
    --------
    >>> import moe_approx as ma
    >>> import matplotlib.pyplot as plt
    >>> from moe_approx import plotting
    >>> fig, ax = plotting.figure()
    >>> len(plotting.cells(ax, ma.DyadicPartition(2, 1).refine([0])).get_paths())
    7
    >>> plt.close(fig)
    """
    lo, hi = partition.all_bounds()
    if partition.n == 1:
        faces = np.unique(lo[:, 0])[1:]
        return ax.vlines(faces, 0, 1, transform=ax.get_xaxis_transform(), **{"colors": "0.7", "linewidths": 0.4, **style})
    if partition.n != 2:
        raise ValueError(f"partition must have n = 1 or 2 to be drawn, got n={partition.n}")
    corners = np.stack([lo, np.stack([hi[:, 0], lo[:, 1]], -1), hi, np.stack([lo[:, 0], hi[:, 1]], -1)], axis=1)
    outline = {"facecolors": "none", "edgecolors": "0.7", "linewidths": 0.4, **style}
    return ax.add_collection(PolyCollection(corners, **outline))


def legend(ax, **kwargs):
    """A legend in the house font size.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.legend`.

    Returns
    -------
    matplotlib.legend.Legend
    """
    return ax.legend(fontsize=STYLE["legend.fontsize"], **kwargs)


def save(fig, stem: Path) -> list[Path]:
    """Write ``stem``.pdf and ``stem``.png (each to a temporary file, then renamed: an interrupted
    save leaves no truncated figure); return both paths (the figure is closed).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : str or pathlib.Path
        Path without suffix; parent folders are created.

    Returns
    -------
    list of pathlib.Path
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".pdf"), stem.with_suffix(".png")]
    with plt.rc_context(STYLE):
        for p in paths:
            tmp = p.with_name(f".{p.stem}.{os.getpid()}.tmp{p.suffix}")
            try:
                fig.savefig(tmp, format=p.suffix[1:])
                os.replace(tmp, p)
            finally:
                tmp.unlink(missing_ok=True)
    plt.close(fig)
    return paths
