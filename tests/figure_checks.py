"""Geometric checks of the house style on a drawn figure (sizes, fonts, series styles, overlaps, a y
label on every panel, no code names, theory lines apart from the data, no legend repeated across
panels), shared by test_plotting.py and test_experiments.py. Each returns a list of problems
(empty = ok)."""

from __future__ import annotations

import itertools
import re

import numpy as np
from matplotlib.text import Text

from moe_approx import plotting

CAPS = {"|", "_", "", "None", None, " "}
CODE_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*[A-Za-z0-9]\b")  # snake_case identifiers
MATH = re.compile(r"\$[^$]*\$")  # mathtext, where subscripts use "_"
APART = 2.0  # points: a theory line closer than this to every data point it spans lies on the data


def _shown_ticklabels(axis):
    """The tick labels drawn: those whose own position lies in the axis' view interval."""
    lo, hi = sorted(axis.get_view_interval())
    lo, hi = lo - 1e-9 * abs(lo), hi + 1e-9 * abs(hi)  # relative slack: log axes span many decades
    coord = 0 if axis.axis_name == "x" else 1
    return [t for t in axis.get_ticklabels(which="both") if t.get_visible() and lo <= t.get_position()[coord] <= hi]


def texts(fig) -> list[Text]:
    """Every visible, non-empty Text the figure draws (titles, labels, tick labels, annotations,
    legend entries)."""
    found = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    ticks = set()  # every tick label the axes hold, also those of spare ticks that are not drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            ticks |= {id(t) for tick in axis.majorTicks + axis.minorTicks for t in (tick.label1, tick.label2)}
    shown = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis) for t in _shown_ticklabels(axis)}
    return [t for t in found if id(t) not in ticks or id(t) in shown]


def _legends(fig):
    return [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)


def problems(fig) -> list[str]:
    plotting.lay_out(fig)  # as plotting.save does
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    width = fig.get_size_inches()[0]
    if width > plotting.DOUBLE_COLUMN + 1e-9:
        found.append(f"figure is {width:.2f} in wide (> {plotting.DOUBLE_COLUMN} in)")
    inside = fig.get_tightbbox(renderer)  # inches; what reaches past the page is cut off when saved
    if inside.x0 < -0.02 or inside.y0 < -0.02 or inside.x1 > width + 0.02 or inside.y1 > fig.get_size_inches()[1] + 0.02:
        found.append(f"drawing reaches outside the {width:.2f} in page: {inside}")
    shown = texts(fig)
    for t in shown:
        if t.get_fontsize() < plotting.MIN_FONT - 1e-9:
            found.append(f"text {t.get_text()!r} at {t.get_fontsize():.1f} pt (< {plotting.MIN_FONT} pt)")
    boxes = [(t, t.get_window_extent(renderer).expanded(1.0, 1.0)) for t in shown]
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        inter = ba.intersection(ba, bb)
        if inter is not None and inter.width > 1 and inter.height > 1:
            found.append(f"texts {a.get_text()!r} and {b.get_text()!r} overlap")
    for ax in fig.axes:
        styles = {}
        for line in ax.lines:
            if line.get_marker() in CAPS or not line.get_visible() or len(line.get_xdata()) == 0:
                continue
            key = (line.get_color(), line.get_marker(), str(line.get_markerfacecolor()) == "none")  # filled or hollow
            if key in styles and (line.get_gid() is None or line.get_gid() != styles[key].get_gid()):  # gid: one series
                found.append(f"two series share colour and marker {key} on axes {ax.get_title()!r}")
            styles[key] = line
    for ax in fig.axes:
        found += _hidden(ax) + _on_data(ax) + _unlabelled(ax)
    found += _code_names(shown) + _repeated_legends(fig)
    for leg in _legends(fig):
        box = leg.get_window_extent(renderer)
        inside = set(id(t) for t in leg.get_texts()) | ({id(leg.get_title())} if leg.get_title() else set())
        for ax in fig.axes:
            frame = ax.get_window_extent(renderer)
            for line in ax.lines:
                xy = line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
                xy = xy[np.all(np.isfinite(xy), axis=1)]
                xy = xy[(xy[:, 0] >= frame.x0) & (xy[:, 0] <= frame.x1) & (xy[:, 1] >= frame.y0) & (xy[:, 1] <= frame.y1)]
                if np.any((xy[:, 0] > box.x0 + 1) & (xy[:, 0] < box.x1 - 1) & (xy[:, 1] > box.y0 + 1) & (xy[:, 1] < box.y1 - 1)):
                    found.append(f"legend covers data of {line.get_label()!r}")
        for t, bt in boxes:
            inter = box.intersection(box, bt)
            if id(t) not in inside and inter is not None and inter.width > 1 and inter.height > 1:
                found.append(f"legend covers text {t.get_text()!r}")
    return found


def _points(line) -> set:
    xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
    return {(float(f"{a:.9g}"), float(f"{b:.9g}")) for a, b in xy if np.isfinite(a) and np.isfinite(b)}


def _hidden(ax) -> list[str]:
    """A marker drawn over an earlier one at the same point hides it unless it is hollow or
    smaller (drawing order: zorder, then creation)."""
    lines = [ln for ln in ax.lines if ln.get_marker() not in CAPS and ln.get_visible()]
    order = sorted(range(len(lines)), key=lambda i: (lines[i].get_zorder(), i))
    found = []
    for k, i in enumerate(order):
        for j in order[k + 1:]:
            below, above = lines[i], lines[j]
            if not _points(below) & _points(above):
                continue
            hollow = str(above.get_markerfacecolor()) == "none"
            if not hollow and above.get_markersize() >= below.get_markersize():
                found.append(f"{above.get_label()!r} hides {below.get_label()!r} on axes {ax.get_title()!r}")
    return found


def _words(text: str) -> str:
    return MATH.sub("", text)


def _has_data(ax) -> bool:
    return ax.get_visible() and (any(len(ln.get_xdata()) for ln in ax.lines) or bool(ax.collections))


def _unlabelled(ax) -> list[str]:
    """A panel with data needs a y label, unless its y tick labels are words (a categorical axis)."""
    if not _has_data(ax) or ax.get_ylabel().strip():
        return []
    if any(re.search(r"[A-Za-z]{2,}", _words(t.get_text())) for t in _shown_ticklabels(ax.yaxis)):
        return []
    return [f"panel {ax.get_title()!r} has data but no y label"]


def _code_names(shown) -> list[str]:
    """No identifier from the code (``trained_moe``, ``sine_product``) in any text outside mathtext."""
    return [f"code name {m.group(0)!r} in text {t.get_text()!r}" for t in shown
            for m in CODE_NAME.finditer(_words(t.get_text()))]


def _is_theory(line) -> bool:
    return line.get_marker() in CAPS and line.get_linestyle() not in ("-", "None", "", " ") and len(line.get_xdata()) >= 2


def _display(line) -> np.ndarray:
    xy = line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
    return xy[np.all(np.isfinite(xy), axis=1)]


def _on_data(ax) -> list[str]:
    """A dashed or dotted line without markers (a theory line) that passes within APART points of
    every point of a data series it spans (at least 2) hides that series' joining line."""
    scale = 72.0 / ax.figure.dpi  # display pixels -> points
    found = []
    for theory in (ln for ln in ax.lines if ln.get_visible() and _is_theory(ln)):
        t = _display(theory)
        t = t[np.argsort(t[:, 0])]
        for data in (ln for ln in ax.lines if ln.get_visible() and ln.get_marker() not in CAPS):
            d = _display(data)
            d = d[(d[:, 0] >= t[0, 0] - 1e-6) & (d[:, 0] <= t[-1, 0] + 1e-6)]
            if len(d) >= 2 and np.all(np.abs(np.interp(d[:, 0], t[:, 0], t[:, 1]) - d[:, 1]) * scale < APART):
                found.append(f"a theory line lies on the data of {data.get_label()!r} on axes {ax.get_title()!r}")
    return found


def _repeated_legends(fig) -> list[str]:
    """The same series listed in the legends of two panels: one legend for the figure is wanted."""
    names = {}
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None:
            key = tuple(t.get_text().split(":")[0].split("\n")[0] for t in leg.get_texts())
            names.setdefault(key, []).append(ax.get_title())
    return [f"the legend of series {list(key)} is repeated on panels {titles}" for key, titles in names.items()
            if len(titles) > 1]
