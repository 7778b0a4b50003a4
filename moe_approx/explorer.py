"""A live trade-off explorer: number of experts against expert size along r (docs/theory.md §2, §5, §6).

:func:`tradeoff_view` is pure: given (family, n, α, ε, r, memory budget) it returns what the view
shows — the integer design at r (``rates.design``), the frontier of designs along r with the
leading-order curve of the rates module, the best design within the memory budget
(``rates.budget_solve``) and, where the design is small enough, its certified sup error
(``sup_error``). :func:`draw` draws a view in the house style (:mod:`moe_approx.plotting`), into
a given figure so that a live view redraws in place. :func:`explore` builds ipywidgets controls
around them in a Jupyter kernel and otherwise shows one static view. ipywidgets is imported only
by :func:`explore`.

The certified point approximates f(x) = ‖x − p‖_∞^α, p = (φ⁻¹, …, φ⁻¹) (off every uniform grid):
α-Hölder with C = 1 (‖·−p‖_∞ is 1-Lipschitz and |a^α − b^α| ≤ |a − b|^α for a, b ≥ 0), so the
rates at (α, C = 1) are this target's; for α = 1 it is the library's ``linf_distance``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import experts, plotting, rates, targets
from .moe import build_moe
from .partition import GridPartition
from .certify import SupErrorReport, sup_error

FAMILIES = tuple(experts.holder_families())  # families for (α, C)-Hölder targets
UNCERTIFIABLE = {"optimal": "interval enclosures are vacuous through bit extraction (docs/theory.md §4.4): "
                            "the design rests on its proven bound"}
LEADING_POINTS = 50
COLUMNS = ("design", "sizes", "K", "experts", "expert params", "active", "active bytes", "total", "error bound")


def target(n: int, alpha: float):
    """The explorer's target ‖x − p‖_∞^α on [0,1]^n, (α, C = 1)-Hölder (module docstring)."""
    base = targets.get("linf_distance", n=n)
    if alpha == 1:
        return base
    return targets.HolderTarget(lambda x: base.fn(x) ** alpha, n, alpha, 1.0, f"linf_distance^{alpha:g}")


@dataclass(frozen=True, repr=False)
class View:
    """What the explorer shows for one setting of the controls (see :func:`tradeoff_view`).

    Attributes
    ----------
    family, n, alpha, eps, r, budget_bytes
        The controls, as given.
    rate : rates.Rate
        The family's rates at (n, α): growth path, r_max, leading-order expressions.
    design : rates.Design
        ``rates.design(family, eps, r, n, alpha)``.
    frontier : tuple of (sympy.Rational, rates.Design)
        Designs at r = r_max·k/(r_points − 1), k = 0 … r_points − 1.
    leading : tuple of numpy.ndarray
        (r, active params, experts L) of the leading-order curve at ``LEADING_POINTS`` values of r
        in [0, r_max] (``Rate.frontier``; one point when r_max = 0).
    budget : rates.BudgetResult
        ``rates.budget_solve(eps, budget_bytes, unit="bytes", families=[family])``.
    report : SupErrorReport or None
        ``sup_error`` of the built design; None when not measured (:attr:`note` says why).
    note : str
        The certified point's target when it was measured, else why it was not.
    """

    family: str
    n: int
    alpha: float
    eps: float
    r: float
    budget_bytes: int
    rate: object
    design: rates.Design
    frontier: tuple
    leading: tuple
    budget: rates.BudgetResult
    report: SupErrorReport | None
    note: str

    @property
    def in_budget(self) -> rates.Design | None:
        """The family's best design within the memory budget, or None (``budget.reasons`` says why)."""
        return self.budget.per_family.get(self.family)

    def rows(self) -> list[tuple]:
        """The design table: one row per design (at r, and best within the budget), :data:`COLUMNS`."""
        row = lambda label, d: (label, str(d.sizes), d.cells_per_side, d.num_experts, d.expert_params, d.active_params,
                                d.active_bytes, d.total_params, f"{d.error_bound:.3g}")
        out = [row(f"at r = {self.r:g}", self.design)]
        if self.in_budget is not None:
            out.append(row(f"best in {self.budget_bytes} bytes", self.in_budget))
        return out

    def summary(self) -> list[str]:
        """The lines under the table: the budget's verdict and the certified point."""
        lines = [] if self.in_budget is not None else [f"no {self.family} design fits {self.budget_bytes} bytes: "
                                                        f"{self.budget.reasons.get(self.family, '')}"]
        if self.report is None:
            lines.append(f"certified point: not measured: {self.note}")
        else:
            rep = self.report
            state = "certified" if rep.certified else "not certified within the evaluation budget (upper bound only)"
            lines.append(f"sup|f - MoE| in [{rep.lower:.4g}, {rep.upper:.4g}] ({state}, {rep.evaluations} evaluations) "
                         f"for f = {self.note}; proven bound {self.design.error_bound:.4g}, eps = {self.eps:g}")
        return lines

    def table_text(self) -> str:
        """The design table and :meth:`summary` as plain text."""
        cells = [COLUMNS] + [tuple(str(c) for c in row) for row in self.rows()]
        widths = [max(len(row[j]) for row in cells) for j in range(len(COLUMNS))]
        lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))) for row in cells]
        return "\n".join(lines + self.summary())

    def __repr__(self) -> str:
        return (f"View({self.family!r}, n={self.n}, alpha={self.alpha:g}, eps={self.eps:g}, r={self.r:g}, "
                f"budget_bytes={self.budget_bytes})\n{self.table_text()}")

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in self.rows())
        notes = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary())
        return f"<table><tr>{head}</tr>{body}</table>{notes}"


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def tradeoff_view(family="cpwl", n=1, alpha=1.0, eps=1e-2, r=0.5, budget_bytes=4096, *, r_points=9, certify=True,
                  max_certify_params=2**15, rtol=0.1, max_evals=2**14) -> View:
    """Everything the explorer shows for one setting of its controls (docs/theory.md §6).

    Parameters
    ----------
    family : {"constant", "cpwl", "optimal"}
        An expert family for Hölder targets (:data:`FAMILIES`).
    n : int
        Input dimension, >= 1.
    alpha : float
        Hölder exponent in (0, 1]; the Hölder constant is C = 1.
    eps : float
        Requested uniform error, > 0.
    r : float
        Trade-off in [0, r_max] of the family (``rates.r_range``): one expert has at most ε^(−r)
        nonzero parameters.
    budget_bytes : int
        Memory loaded per input, >= 8 bytes (8 per float64 active parameter).
    r_points : int
        Designs on the frontier, >= 2.
    certify : bool
        Build the design at r and bracket its sup error (when its dense parameter count is at most
        ``max_certify_params``, it has at most ``max_evals // 4`` experts, and the family can be
        certified).
    max_certify_params, max_evals : int
        The size guard and the evaluation budget of ``sup_error``; ``rtol`` its relative bracket width.

    Returns
    -------
    View

    Raises
    ------
    ValueError
        For an unknown family, n < 1, alpha outside (0, 1], eps <= 0, r outside [0, r_max],
        budget_bytes < 8, r_points < 2 or max_certify_params < 1 (the message names the argument).

    Examples
    --------
    >>> from moe_approx import explorer
    >>> v = explorer.tradeoff_view("cpwl", n=1, alpha=1, eps=1e-2, r=0.5, budget_bytes=4096, certify=False)
    >>> v.design.sizes, v.design.num_experts  # the largest k with 3k + 1 <= eps^-r = 10 nonzeros
    ({'k': 3}, 34)
    >>> v.in_budget.sizes, v.in_budget.num_experts  # 512 parameters hold one expert that reaches eps
    ({'k': 100}, 1)
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    budget_bytes = _check_int(budget_bytes, "budget_bytes", rates.BYTES_PER_PARAM)
    r_points = _check_int(r_points, "r_points", 2)
    max_certify_params = _check_int(max_certify_params, "max_certify_params", 1)
    rt = rates.rate(family, n, alpha)
    design = rates.design(family, eps, r, n, alpha)
    grid = sorted({rt.r_max * sp.Rational(k, r_points - 1) for k in range(r_points)})
    frontier = tuple((x, rates.design(family, eps, x, n, alpha)) for x in grid)
    r_lead = np.linspace(0, float(rt.r_max), LEADING_POINTS) if rt.r_max else np.zeros(1)  # Rate.frontier's grid
    leading = (r_lead, *rt.frontier(eps, 1, float(rt.r_max), num=LEADING_POINTS))
    budget = rates.budget_solve(eps, budget_bytes, n=n, alpha=alpha, unit="bytes", families=[family])
    dense = design.num_experts * int(experts.get(family).num_params(n, "relu", **design.sizes))
    report, note = None, target(n, alpha).name
    if not certify:
        note = "certify=False"
    elif family in UNCERTIFIABLE:
        note = UNCERTIFIABLE[family]
    elif dense > max_certify_params or design.num_experts > max_evals // 4:
        over = (f"{dense} stored parameters > max_certify_params = {max_certify_params}" if dense > max_certify_params
                else f"{design.num_experts} experts > max_evals/4 = {max_evals // 4}")
        note = (f"too large to certify in seconds ({over}); raise eps, or raise max_certify_params and max_evals "
                f"and wait")
    else:
        f = target(n, alpha)
        moe = build_moe(f, GridPartition(n, design.cells_per_side), expert=family, **design.sizes)
        report = sup_error(f, moe, rtol=rtol, max_evals=max_evals)
    return View(family, n, alpha, eps, r, budget_bytes, rt, design, frontier, leading, budget, report, note)


def _limits(ax, xs, ys, pad=1.8):
    """Log-scale limits that hold every value with a factor ``pad`` to spare (also for one point)."""
    for values, setter in ((xs, ax.set_xlim), (ys, ax.set_ylim)):
        values = [float(v) for v in values if v > 0 and np.isfinite(v)]
        setter(min(values) / pad, max(values) * pad)


@plotting.styled
def draw(view: View, fig=None):
    """Draw ``view``: experts L against active parameters along r (left), error against active
    parameters (right); into ``fig`` (cleared first) when given, else a new house-style figure."""
    if fig is None:
        fig, _ = plotting.figure(2, legend_rows=4)
    fig.clear()
    left, right = fig.subplots(1, 2)
    d, cap, best, rep = view.design, view.budget.budget_params, view.in_budget, view.report
    fr = [x for _, x in view.frontier]
    r_max = view.rate.r_max
    active, experts_l = [x.active_params for x in fr], [x.num_experts for x in fr]
    note = f", r = 0 (top) to {sp.sstr(r_max)}" if r_max else ", r = 0 (fixed-size experts)"
    plotting.plot_series(left, active, experts_l, f"{view.family}: designs", color=plotting.PALETTE[0], note=note)
    _, a_lead, l_lead = view.leading
    keep = a_lead >= min(active)
    if keep.any():
        line, = left.plot(a_lead[keep], l_lead[keep], "--" if r_max else "x", color=plotting.PALETTE[0], alpha=0.7, lw=0.9)
        plotting.add_entry(left, line, f"{view.family}: leading order")
    here, = left.plot([d.active_params], [d.num_experts], "o", ms=10, mfc="none", mew=1.2, color=plotting.PALETTE[3])
    plotting.add_entry(left, here, f"the design at r = {view.r:g}" + ("" if d.active_params <= cap else " (over budget)"))
    if best is not None:
        star, = left.plot([best.active_params], [best.num_experts], "*", ms=9, color=plotting.PALETTE[2])
        plotting.add_entry(left, star, "fewest total parameters within the budget")
    wall = left.axvline(cap, color="0.3", linestyle=":", lw=0.9)
    plotting.add_entry(left, wall, f"memory budget: {view.budget_bytes} bytes = {cap} active parameters")
    extra = [best] if best is not None else []
    _limits(left, active + [cap] + [x.active_params for x in extra] + list(a_lead[keep]),
            experts_l + [x.num_experts for x in extra] + list(l_lead[keep]))
    left.set_ylabel("experts L")
    left.set_title(f"{view.family}, n = {view.n}, α = {view.alpha:g}, ε = {view.eps:g}")

    bounds = [x.error_bound for x in fr]
    plotting.plot_series(right, active, bounds, "proven bound of the designs", color=plotting.PALETTE[0], linestyle="none")
    if rep is not None and rep.certified:
        bar = right.errorbar([d.active_params], [rep.lower], yerr=[[0], [rep.upper - rep.lower]], marker="o",
                             color=plotting.PALETTE[3], capsize=2, linestyle="none")
        plotting.add_entry(right, bar, f"certified sup error at r = {view.r:g}")
    elif rep is not None:
        up, = right.plot([d.active_params], [rep.upper], "o", mfc="none", color=plotting.PALETTE[3])
        plotting.add_entry(right, up, f"upper bound only at r = {view.r:g} (not certified)")
    else:
        right.text(0.03, 0.05, "certified point: not measured\n(see the table)", transform=right.transAxes, fontsize=7)
    goal = right.axhline(view.eps, color="k", linestyle="-.", lw=0.8)
    plotting.add_entry(right, goal, "requested ε")
    measured = [rep.lower, rep.upper] if rep is not None else []
    _limits(right, active, bounds + [view.eps] + measured)
    right.set_ylabel(r"$\sup|f-\Phi|$")
    right.set_title("error of the designs")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("active parameters per input")
        plotting.log_ticks(ax)
    plotting.figure_legend(fig, [left, right], ncol=2)
    return plotting.lay_out(fig)


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where widgets can be displayed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show(obj) -> None:
    """Display ``obj`` under IPython (a :class:`View` as its table and figure); else print a view's table."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(obj.table_text() if isinstance(obj, View) else obj)
        return
    display(obj)
    if isinstance(obj, View):
        import matplotlib.pyplot as plt

        fig = draw(obj)
        display(fig)
        plt.close(fig)  # shown once, not again by the inline backend at the end of the cell


class Explorer:
    """The live view: ipywidgets controls, an HTML design table and one figure redrawn in place.

    ``controls`` maps each argument of :func:`tradeoff_view` that the user sets to its widget;
    every change of a control calls :meth:`update` (an ``observe`` callback), which recomputes the
    :class:`View` (:attr:`view`), rewrites the table and redraws the figure in the output area.
    The r slider's range follows the family's [0, r_max]. An invalid setting shows its error in
    place of the table and leaves :attr:`view` as it was.
    """

    def __init__(self, widgets, view: View, **options):
        import matplotlib.pyplot as plt

        self.options, self.view, self._busy = options, view, False
        self.controls = {
            "family": widgets.Dropdown(options=FAMILIES, value=view.family, description="family"),
            "n": widgets.IntSlider(value=view.n, min=1, max=max(4, view.n), description="n"),
            "alpha": widgets.FloatSlider(value=view.alpha, min=0.1, max=1.0, step=0.05, description="α"),
            "eps": widgets.FloatLogSlider(value=view.eps, base=10, min=-5, max=-0.5, step=0.25, description="ε"),
            "r": widgets.FloatSlider(value=view.r, min=0.0, max=float(view.rate.r_max), step=0.05, description="r"),
            "budget_bytes": widgets.IntText(value=view.budget_bytes, description="bytes"),
        }
        self.table, self.output = widgets.HTML(), widgets.Output()
        self.figure, _ = plotting.figure(2, legend_rows=4)
        plt.close(self.figure)  # pyplot forgets it: it is shown only through the output area
        for control in self.controls.values():
            control.observe(self.update, names="value")
        row = list(self.controls.values())
        self.box = widgets.VBox([widgets.HBox(row[:3]), widgets.HBox(row[3:]), self.table, self.output])
        self._render()

    def update(self, change=None) -> View | None:
        """Recompute and redraw: the ``observe`` callback (``change``, traitlets' dict, is not read)."""
        if self._busy:  # a change made by this method (the r slider's range)
            return None
        self._busy = True
        try:
            args = {name: control.value for name, control in self.controls.items()}
            slider = self.controls["r"]
            slider.max = float(rates.r_range(args["family"], args["n"], args["alpha"])[1])
            args["r"] = slider.value  # clamped to the new range
            self.view = tradeoff_view(**args, **self.options)
        except (ValueError, TypeError) as exc:
            self.table.value = f"<b>invalid setting:</b> {html.escape(str(exc))}"
            return None
        finally:
            self._busy = False
        self._render()
        return self.view

    def _render(self):
        from IPython.display import display

        self.table.value = self.view._repr_html_()
        draw(self.view, self.figure)
        self.output.clear_output(wait=True)  # the widget's own message: IPython's clear_output inside the
        with self.output:                     # capture stalls a headless nbclient run until its cell timeout
            display(self.figure)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


def explore(family="cpwl", n=1, alpha=1.0, eps=1e-2, r=0.5, budget_bytes=4096, *, interactive=None, **options):
    """The trade-off explorer: live controls in a Jupyter kernel, one static view elsewhere.

    Parameters
    ----------
    family, n, alpha, eps, r, budget_bytes
        The initial setting (:func:`tradeoff_view`).
    interactive : bool or None
        None: widgets when ipywidgets is importable and this runs in a kernel, else the static
        view; True: widgets (ImportError without ipywidgets); False: the static view.
    **options
        Passed to :func:`tradeoff_view` (``r_points``, ``certify``, ``max_certify_params``, ...).

    Returns
    -------
    Explorer or View
        The live explorer (displayed), or the static view (its table and figure displayed under
        IPython, its table printed elsewhere).

    Raises
    ------
    ValueError
        For an invalid initial setting (:func:`tradeoff_view`), checked before any widget is built.
    """
    view = tradeoff_view(family, n, alpha, eps, r, budget_bytes, **options)
    widgets = None
    if interactive is not False:
        try:
            import ipywidgets as widgets
        except ImportError:
            if interactive:
                raise ImportError("explore(interactive=True) needs ipywidgets (pip install 'moe_approx[notebooks]')") from None
    if widgets is None or not (interactive or _in_kernel()):
        _show(view)
        return view
    ui = Explorer(widgets, view, **options)
    _show(ui)
    return ui
