"""Figures in one house style, ready for a two-column paper.

Chebfun's convention: log error against log size, the theoretical slope drawn beside the measured
one. The house style (:data:`STYLE`):

- single-column figures are 3.4 in wide, multi-panel figures one double column (7 in) wide;
- every font is at least 7 pt at that size, titles included: draw inside :func:`style` (or a
  function decorated with :func:`styled`) so the sizes apply whenever text is created;
- a colour-blind-safe palette (Okabe–Ito) and a distinct (colour, marker) pair per series
  (:func:`series_styles`);
- legends sit below the panels (:func:`legend`, :func:`figure_legend`), never on the data;
- a theory line is dashed, parallel to its data and drawn beside it, never on it
  (:func:`slope_guide`): in its series' colour sharing the series' legend entry
  (:func:`rate_plot`), or grey and labelled at its end where several series share the exponent;
  two points are not called a fit;
- a figure of several panels has one legend listing each series once, with its fits panel by
  panel (:func:`figure_legend`); every panel has a y label; no identifier from the code appears
  in its text;
- a series whose points coincide with an earlier one on the same axes is drawn with larger hollow
  markers and its legend entry says so (:func:`plot_series`).

The module leaves matplotlib's backend alone.
"""

from __future__ import annotations

import functools
import weakref
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.collections import PolyCollection
from matplotlib.legend_handler import HandlerTuple
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import ScaledTranslation

SINGLE_COLUMN = 3.4  # inches: one column of a two-column paper
DOUBLE_COLUMN = 7.0  # inches: the full text width
PANEL_HEIGHT = 2.3  # inches: the height of one row of panels (legend rows are added to it)
LEGEND_ROW = 0.15  # inches: the height of one legend row at 7 pt
MIN_FONT = 7.0  # points: the smallest font at print size

# Okabe & Ito (2008), "Color universal design": distinguishable under the common colour-vision
# deficiencies; yellow comes last (faint on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
# Nine markers: with eight colours, (colour, marker) pairs repeat only after 72 series.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", ">", "*")

STYLE = {
    "figure.figsize": (SINGLE_COLUMN, PANEL_HEIGHT),
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "figure.titlesize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.prop_cycle": cycler(color=PALETTE),
    "lines.linewidth": 1.1,
    "lines.markersize": 4,
    "errorbar.capsize": 2,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "legend.handlelength": 2.2,
    "legend.borderaxespad": 0.3,
    "legend.columnspacing": 1.2,
    "legend.framealpha": 0.9,
    "savefig.bbox": None,  # the saved page is the figure's size; lay_out keeps everything inside it
}

_ENTRIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # axes -> [(handle, label)]
_POINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # axes -> [(label, set of points)]


def style():
    """Context manager applying :data:`STYLE` to everything created inside it, titles included."""
    return plt.rc_context(STYLE)


def styled(func):
    """Decorator: run ``func`` (a function that draws a figure) inside :func:`style`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with style():
            return func(*args, **kwargs)

    return wrapper


def figure(ncols: int = 1, nrows: int = 1, legend_rows: int = 0, double: bool = False, **kwargs):
    """A new figure and axes in the house style: 3.4 in wide for one panel, 7 in (a double column)
    for several side by side or with ``double=True`` (e.g. stacked panels with legends to the
    right); ``PANEL_HEIGHT`` per row of panels plus ``legend_rows`` rows of legend below. The
    figure has no layout engine yet: :func:`save` lays it out (:func:`lay_out`)."""
    if ncols < 1 or nrows < 1 or legend_rows < 0:
        raise ValueError(f"ncols, nrows must be >= 1 and legend_rows >= 0, got {ncols}, {nrows}, {legend_rows}")
    width = DOUBLE_COLUMN if ncols > 1 or double else SINGLE_COLUMN
    height = PANEL_HEIGHT * nrows + LEGEND_ROW * legend_rows
    with style():
        return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


def panels(rows, key, reverse=False, legend_rows: int = 0):
    """One panel per distinct ``row[key]``, side by side in a double column (also when a small run
    has a single value, so its legends fit as they do for several): the figure, its axes, and
    (ax, value, rows) per panel."""
    values = sorted({r[key] for r in rows}, reverse=reverse)
    fig, axes = figure(len(values), legend_rows=legend_rows, double=True, squeeze=False)
    return fig, axes[0], [(ax, v, [r for r in rows if r[key] == v]) for ax, v in zip(axes[0], values)]


def series_styles(keys, color_by=None, marker_by=None) -> dict:
    """A distinct (colour, marker) per series key, stable across the panels of a figure.

    By default series i (in sorted order) gets ``PALETTE[i % 8]`` and ``MARKERS[i % 9]``; with
    ``color_by`` / ``marker_by`` (functions of the key) the colour follows one attribute (e.g. the
    family) and the marker another (e.g. r)."""
    keys = sorted(set(keys))
    color_by, marker_by = color_by or (lambda k: k), marker_by or (lambda k: k)
    colours, markers = sorted({color_by(k) for k in keys}), sorted({marker_by(k) for k in keys})
    styles = {k: {"color": PALETTE[colours.index(color_by(k)) % len(PALETTE)],
                  "marker": MARKERS[markers.index(marker_by(k)) % len(MARKERS)]} for k in keys}
    if len({(s["color"], s["marker"]) for s in styles.values()}) < len(styles):
        raise ValueError(f"keys: {len(keys)} series do not get distinct (colour, marker) pairs; pass color_by/marker_by")
    return styles


def _point_set(x, y) -> set:
    """The finite points (x, y), rounded to 9 significant digits, to detect coinciding markers."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    return {(float(f"{a:.9g}"), float(f"{b:.9g}")) for a, b in zip(x[ok], y[ok])}


def _short(name: str, label: str) -> str:
    """``name`` without the leading words it shares with ``label`` ("cpwl r=0" next to "cpwl r=1": "r=0")."""
    words, mine = name.split(), label.split()
    k = 0
    while k < min(len(words), len(mine)) - 1 and words[k] == mine[k]:
        k += 1
    return " ".join(words[k:])


def plot_series(ax, x, y, label, color=None, marker="o", yerr=None, linestyle="-", note="", **kwargs):
    """One measured series: markers joined by ``linestyle``, optional error bars ``yerr``; its legend
    entry is ``label`` + ``note``.

    A series that shares points with series drawn earlier on ``ax`` is drawn with hollow,
    larger markers (so both stay visible) and its label says which series it covers. Returns the
    artist used as the series' legend handle."""
    points = _point_set(x, y)
    earlier = _POINTS.setdefault(ax, [])
    shared = [(name, len(points & pts)) for name, pts in earlier if points & pts]
    size = kwargs.pop("markersize", plt.rcParams["lines.markersize"])
    earlier.append((label, points))
    text = label + note
    if shared:
        names = ", ".join(_short(name, label) for name, _ in shared)
        whole = all(count == len(points) for _, count in shared)
        text += f"\n(hollow: {'on' if whole else 'partly on'} {names})"
        kwargs |= {"markerfacecolor": "none", "markeredgewidth": 1.0}
        size = size * (1 + 0.6 * min(len(shared), 3))
    if yerr is None:
        handle, = ax.plot(x, y, marker=marker, linestyle=linestyle, color=color, markersize=size, label=text, **kwargs)
    else:
        handle = ax.errorbar(x, y, yerr=yerr, marker=marker, linestyle=linestyle, color=color, markersize=size,
                             label=text, **kwargs)
    add_entry(ax, handle, text)
    return handle


def signed(value: float, digits: int = 2) -> str:
    """``value`` with an explicit sign and a typographic minus: ``signed(-0.5) == "−0.50"``."""
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def add_entry(ax, handle, label: str) -> None:
    """Add ``handle`` (an artist or a tuple of artists drawn as one entry) to the legend of ``ax``."""
    _ENTRIES.setdefault(ax, []).append((handle, label))


def join_entry(ax, artist, replace: tuple[str, str] = ("", "")) -> None:
    """Draw ``artist`` (e.g. a series' proven bound) in the legend entry added last to ``ax``, beside
    its handle; ``replace = (old, new)`` edits that entry's text."""
    entries = _ENTRIES.get(ax)
    if not entries:
        raise ValueError("ax has no legend entry to join")
    handle, text = entries[-1]
    entries[-1] = ((*(handle if type(handle) is tuple else (handle,)), artist), text.replace(*replace) if replace[0] else text)


def fraction(value: float, max_denominator: int = 12) -> str:
    """``value`` as a short signed fraction with a typographic minus: ``fraction(-0.5) == "−1/2"``,
    ``fraction(2.0) == "+2"``, ``fraction(0) == "0"``; a value no fraction with a denominator up to
    ``max_denominator`` matches to 1e-9 is written with two decimals (:func:`signed`)."""
    from fractions import Fraction

    q = Fraction(value).limit_denominator(max_denominator)
    if abs(float(q) - value) > 1e-9:
        return signed(value)
    if q == 0:
        return "0"
    return ("+" if q > 0 else "\u2212") + str(abs(q))


def slope_guide(ax, x, y, slope, side="above", factor=2.0, color="0.3", text=None, **kwargs):
    """A dashed theory line ∝ x^slope over the range of ``x`` (log-log axes), parallel to the data
    and ``factor`` times above (``side="above"``) or below all the points (``x``, ``y``), so that it
    never hides them; ``text`` is written at its right end, in its colour. Returns the line."""
    if side not in ("above", "below"):
        raise ValueError(f"side must be 'above' or 'below', got {side!r}")
    if not factor > 1:
        raise ValueError(f"factor must be > 1, got {factor}")
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise ValueError("x, y: need at least one point with x, y > 0")
    scaled = y[ok] / x[ok] ** slope
    anchor = scaled.max() * factor if side == "above" else scaled.min() / factor
    ends = np.array([x[ok].min(), x[ok].max()])
    line, = ax.plot(ends, anchor * ends**slope, "--", color=color, lw=0.9, **kwargs)
    if text:  # on the side away from the data, at the end where the line runs away from the text
        up, flipped = side == "above", ax.xaxis_inverted()  # invert the x axis before drawing guides
        left, right = (ends[1], ends[0]) if flipped else (ends[0], ends[1])
        at_right = ((-slope if flipped else slope) >= 0) == up
        end = right if at_right else left
        at = (end, anchor * end**slope)
        ax.annotate(text, at, xytext=(0, 2 if up else -2), textcoords="offset points", ha="right" if at_right else "left",
                    va="bottom" if up else "top", color=color, fontsize=STYLE["legend.fontsize"], in_layout=False)
        # room for the text inside the axes: about one text height (0.4 decade) beyond the line's end
        ax.update_datalim([(at[0], at[1] * (2.5 if up else 1 / 2.5))])
        ax.autoscale_view()
    return line


def corner_text(ax, lines, loc="upper left"):
    """Lines of text stacked in a corner of ``ax`` (``loc``: "upper left", "upper right", "lower left"
    or "lower right"), each ``(text, colour)``; e.g. the fitted slopes of a panel's series in their
    colours. Returns the Text objects."""
    vertical, horizontal = loc.split()
    if vertical not in ("upper", "lower") or horizontal not in ("left", "right"):
        raise ValueError(f"loc must be 'upper|lower left|right', got {loc!r}")
    x, sx = (0.03, 1) if horizontal == "left" else (0.97, -1)
    y, sy = (0.97, -1) if vertical == "upper" else (0.03, 1)
    order = lines if vertical == "upper" else lines[::-1]
    height = STYLE["legend.fontsize"] * 1.25
    return [ax.annotate(text, (x, y), xycoords="axes fraction", xytext=(0, sy * k * height), textcoords="offset points",
                        ha=horizontal, va="top" if vertical == "upper" else "bottom", color=color, in_layout=False,
                        fontsize=STYLE["legend.fontsize"],
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
            for k, (text, color) in enumerate(order)]


_FITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # axes -> {label: (fitted, theory, points)}


def rate_plot(ax, size, lower, upper=None, theory_slope=None, label="", marker="o", color=None, theory="above",
              factor=2.0):
    """Measured error (bracket [lower, upper] as error bars, at their geometric mean) against size,
    with the theoretical slope drawn dashed in the same colour, parallel to the data and ``factor``
    times ``theory`` ("above" or "below") all of its points, so that it never hides them
    (:func:`slope_guide`; ``theory=None`` draws no line). Both share one legend entry:
    "label: fit ±a.aa, theory ±b.bb"; with fewer than 3 points nothing is fitted and the entry says
    so. Returns the fitted slope (nan below 3 points)."""
    size, lower = np.asarray(size, float), np.asarray(lower, float)
    upper = lower if upper is None else np.asarray(upper, float)
    mid = np.sqrt(lower * upper) if np.all(upper < np.inf) else lower
    fitted = fit_slope(size, mid) if len(size) >= 3 else float("nan")
    yerr = None if np.array_equal(lower, upper) else [mid - lower, np.where(np.isfinite(upper), upper - mid, 0)]
    fit_text = f"fit {signed(fitted)}" if fitted == fitted else f"{len(size)} points, no fit"
    note = f": {fit_text}" + ("" if theory_slope is None else f", theory {signed(theory_slope)}")
    handle = plot_series(ax, size, mid, label, color=color, marker=marker, yerr=yerr, note=note)
    _FITS.setdefault(ax, {})[label] = (fitted, theory_slope, len(size))
    line = handle[0] if isinstance(handle, tuple) else handle
    if theory_slope is not None and theory is not None and len(size):
        join_entry(ax, slope_guide(ax, size, mid, theory_slope, side=theory, factor=factor, color=line.get_color(),
                                   alpha=0.8))
    ax.set_xscale("log")
    ax.set_yscale("log")
    return fitted


def _power_label(value: float, _pos=None) -> str:
    """``c × 10^e`` in mathtext (``10^e`` when c = 1): every tick :func:`log_ticks` places gets a label."""
    if not value > 0:
        return ""
    exponent = int(np.floor(np.log10(value) + 1e-9))
    coefficient = value / 10.0**exponent
    if abs(coefficient - 1) < 1e-6:
        return rf"$10^{{{exponent}}}$"
    return rf"${coefficient:.3g}\times10^{{{exponent}}}$"


def log_ticks(ax) -> None:
    """Tick labels that do not collide on log axes: powers of ten where at least two lie in
    view; else 1×, 2×, 5× powers of ten; else 1× to 9×. Minor ticks are unlabelled. Call after
    the data and limits are final."""
    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        lo, hi = sorted(limits)
        if not lo > 0:
            continue
        powers = 10.0 ** np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
        for subs in ((1,), (1, 2, 5), tuple(range(1, 10))):
            ticks = np.array([p * s for p in powers for s in subs])
            ticks = ticks[(ticks >= lo * (1 - 1e-12)) & (ticks <= hi * (1 + 1e-12))]
            if len(ticks) >= 2:
                break
        box = ax.get_position()
        inches = box.width * ax.figure.get_figwidth() if axis is ax.xaxis else box.height * ax.figure.get_figheight()
        gap = (0.3 if subs == (1,) else 0.45) if axis is ax.xaxis else 0.2  # inches between labels (5×10³ is wide)
        if subs == (1,):  # thinned to at most one label per gap of axis
            axis.set_major_locator(LogLocator(base=10, numticks=max(3, int(inches / gap))))
        else:  # keep ticks at least gap apart, powers of ten first, then 2× and 5×, then the rest
            at = np.log(ticks / lo) / np.log(hi / lo) * inches
            lead = np.round(ticks / 10.0 ** np.floor(np.log10(ticks) + 1e-9))
            keep = []
            for i in sorted(range(len(ticks)), key=lambda i: ({1: 0, 2: 1, 5: 1}.get(lead[i], 2), i)):
                if all(abs(at[i] - at[k]) >= gap for k in keep):
                    keep.append(i)
            axis.set_major_locator(FixedLocator(np.sort(ticks[keep])))
        axis.set_major_formatter(FuncFormatter(_power_label))
        axis.set_minor_formatter(NullFormatter())


def _entries(ax):
    """The legend entries of ``ax``: those registered by :func:`plot_series` / :func:`add_entry`
    (in order), then any other labelled artist."""
    found = list(_ENTRIES.get(ax, []))
    known = {id(h[0] if type(h) is tuple else h) for h, _ in found}
    found += [(h, t) for h, t in zip(*ax.get_legend_handles_labels()) if id(h) not in known]
    return [h for h, _ in found], [t for _, t in found]


def legend(ax, ncol: int = 1, below: float = 30.0, right: bool = False, **kwargs):
    """A legend outside ``ax`` in the house font size: ``below`` points under the bottom of the
    axes (clear of the tick labels and the x label), or with ``right=True`` beside its right edge.
    Keyword arguments go to ``ax.legend``."""
    handles, labels = _entries(ax)
    if not handles:
        return None
    if right:
        place = {"loc": "center left", "bbox_to_anchor": (1.02, 0.5), "bbox_transform": ax.transAxes}
    else:
        offset = ScaledTranslation(0, -below / 72, ax.figure.dpi_scale_trans)
        place = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "bbox_transform": ax.transAxes + offset}
    return ax.legend(handles, labels, ncol=ncol, handler_map={tuple: HandlerTuple(ndivide=None, pad=0.4)},
                     fontsize=STYLE["legend.fontsize"], **(place | kwargs))


def figure_legend(fig, axes, ncol: int = 2, panels=None, panel_name: str | None = "n", theory: bool = True, **kwargs):
    """One legend for all ``axes`` below the panels: each series once, under its label without
    the per-panel "(hollow: …)" note; a series drawn hollow in some panel is shown hollow and says
    where it coincides.

    With ``panels`` (one value per axes, e.g. ``[1, 2]``, named ``panel_name``, or unnamed with
    ``panel_name=None``) a series drawn by
    :func:`rate_plot` gets one entry listing its fits (and, with ``theory``, its theory slopes)
    panel by panel: "cpwl kink: fit −1.00, −0.50; theory −1.00, −0.50 (n = 1, 2)"."""
    axes = list(np.ravel(axes))
    if panels is not None and len(panels) != len(axes):
        raise ValueError(f"panels: need one name per axes ({len(axes)}), got {len(panels)}")
    seen, fits = {}, {}
    for i, ax in enumerate(axes):
        for h, t in zip(*_entries(ax)):
            base = t.split("\n(hollow: ")[0]
            hollow = "\n(hollow: " in t
            name = base.split(": ")[0] if panels is not None and base.split(": ")[0] in _FITS.get(ax, {}) else base
            if name != base:
                fits.setdefault(name, []).append((panels[i], *_FITS[ax][name]))
            if name not in seen or (hollow and not seen[name][1]):
                seen[name] = (h, hollow)
    labels = []
    for name, (_, hollow) in seen.items():
        if name in fits:
            where, fitted, slopes, counts = zip(*fits[name])
            name += ": fit " + ", ".join(f"none ({c} points)" if f != f else signed(f) for f, c in zip(fitted, counts))
            if theory and any(s is not None for s in slopes):
                name += "; theory " + ", ".join("n/a" if s is None else signed(s) for s in slopes)
            values = ", ".join(f"{w:g}" if isinstance(w, float) else str(w) for w in where)
            name += f" ({panel_name} = {values})" if panel_name else f" ({values})"
        labels.append(f"{name} (hollow where it coincides)" if hollow else name)
    return fig.legend([h for h, _ in seen.values()], labels, loc="outside lower center", ncol=ncol,
                      handler_map={tuple: HandlerTuple(ndivide=None, pad=0.4)}, fontsize=STYLE["legend.fontsize"],
                      **kwargs)


def cells(ax, partition, **style):
    """Draw the cell boundaries of a partition with n <= 2: vertical lines at the interior faces
    (n = 1) or one rectangle outline per cell (n = 2); ``style`` overrides the default thin grey."""
    lo, hi = partition.all_bounds()
    if partition.n == 1:
        faces = np.unique(lo[:, 0])[1:]
        return ax.vlines(faces, 0, 1, transform=ax.get_xaxis_transform(), **{"colors": "0.7", "linewidths": 0.4, **style})
    if partition.n != 2:
        raise ValueError(f"partition must have n = 1 or 2 to be drawn, got n={partition.n}")
    corners = np.stack([lo, np.stack([hi[:, 0], lo[:, 1]], -1), hi, np.stack([lo[:, 0], hi[:, 1]], -1)], axis=1)
    outline = {"facecolors": "none", "edgecolors": "0.7", "linewidths": 0.4, **style}
    return ax.add_collection(PolyCollection(corners, **outline))


def fit_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def lay_out(fig):
    """Give ``fig`` matplotlib's constrained layout unless it already has a layout engine (e.g.
    after ``fig.tight_layout()``): it fits the legends placed outside the axes into the page.
    :func:`save` calls it; figures are created without one, so ``tight_layout`` stays silent."""
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    return fig


def save(fig, stem: Path) -> list[Path]:
    """Write ``stem``.pdf and ``stem``.png in the house style (laid out by :func:`lay_out`, the page
    exactly the figure's size), each to a temporary file then renamed (an interrupted save leaves no
    truncated figure); close the figure; return both paths.

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
    lay_out(fig)
    with style():
        for p in paths:
            tmp = p.with_name(f".{p.stem}.{os.getpid()}.tmp{p.suffix}")
            try:
                fig.savefig(tmp, format=p.suffix[1:])
                os.replace(tmp, p)
            finally:
                tmp.unlink(missing_ok=True)
    plt.close(fig)
    return paths
