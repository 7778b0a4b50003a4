"""plotting.cells draws exactly the partition's cell boundaries."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx import plotting


def test_cells_2d_one_rectangle_per_cell():
    partition = ma.DyadicPartition(2, 1).refine([2])  # 3 coarse cells and 4 children
    fig, ax = plotting.figure()
    drawn = plotting.cells(ax, partition)
    assert len(drawn.get_paths()) == partition.num_cells
    for i, path in enumerate(drawn.get_paths()):
        lo, hi = partition.bounds(i)
        corners = {(x, y) for x in (lo[0], hi[0]) for y in (lo[1], hi[1])}
        assert {tuple(v) for v in path.vertices} == corners


def test_cells_1d_interior_faces():
    partition = ma.DyadicPartition(1, 2).refine([1])  # faces 1/8 apart inside [1/4, 1/2]
    fig, ax = plotting.figure()
    drawn = plotting.cells(ax, partition)
    xs = sorted(seg[0, 0] for seg in drawn.get_segments())
    assert xs == [0.25, 0.375, 0.5, 0.75]


def test_cells_rejects_n3():
    fig, ax = plotting.figure()
    with pytest.raises(ValueError, match="n = 1 or 2"):
        plotting.cells(ax, ma.GridPartition(3, 2))


# --- house style -------------------------------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402

from figure_checks import problems  # noqa: E402


@plotting.styled
def _three_panels():
    fig, axes, groups = plotting.panels([{"n": n} for n in (1, 2, 3)], "n", legend_rows=2)
    K = np.array([4, 8, 16, 32])
    for ax, n, _ in groups:
        for i, (name, alpha) in enumerate((("kink", 1.0), ("cusp", 0.5))):
            plotting.rate_plot(ax, K**n, (i + 1) * 0.3 * K ** -alpha, theory_slope=-alpha / n, label=f"constant {name}",
                               **plotting.series_styles(["kink", "cusp"])[name])
        ax.set_title(f"n = {n}")  # created after the axes: the style must still apply
        ax.set_xlabel("number of experts L")
        ax.set_ylabel("error")
        plotting.log_ticks(ax)
    plotting.figure_legend(fig, axes, ncol=1, panels=[1, 2, 3])
    return fig, axes


def test_house_style_figure_passes_every_check(tmp_path):
    import matplotlib.image

    fig, axes = _three_panels()
    assert problems(fig) == []
    assert axes[0].title.get_fontsize() == plotting.STYLE["axes.titlesize"]
    png = plotting.save(fig, tmp_path / "three")[1]
    height, width = matplotlib.image.imread(png).shape[:2]
    assert width == round(plotting.DOUBLE_COLUMN * plotting.STYLE["savefig.dpi"])  # the page is 7 in, legends inside


def test_checks_catch_a_default_matplotlib_figure():
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": 10, "legend.fontsize": 5}):
        fig, axes = plt.subplots(1, 3, figsize=(10.2, 2.6))
        for ax in axes:
            for k in range(2):
                ax.plot(np.arange(10), np.arange(10) + k, marker="o", color="C0", label=f"s{k}")
            ax.set_title("panel")
            ax.legend(loc="center")
    found = "\n".join(problems(fig))
    plt.close(fig)
    assert "10.20 in wide" in found and "pt (< 7.0 pt)" in found
    assert "legend covers data" in found and "share colour and marker" in found
    assert "'s1' hides 's0'" not in found  # s1 is drawn one unit above s0: they share no point


def test_checks_catch_a_series_hidden_under_another():
    fig, ax = plotting.figure()
    ax.plot([1, 2, 3], [1, 2, 3], "o", color=plotting.PALETTE[0], label="relu")
    ax.plot([1, 2, 3], [1, 2, 3], "s", color=plotting.PALETTE[1], label="prelu")
    assert any("'prelu' hides 'relu'" in p for p in problems(fig))
    fig, ax = plotting.figure()
    plotting.plot_series(ax, [1, 2, 3], [1, 2, 3], "relu", marker="o", color=plotting.PALETTE[0])
    plotting.plot_series(ax, [1, 2, 3], [1, 2, 3], "prelu", marker="s", color=plotting.PALETTE[1])
    assert not [p for p in problems(fig) if "hides" in p]


def test_theory_line_shares_colour_and_legend_entry_and_lies_beside_the_data():
    fig, ax = plotting.figure()
    fitted = plotting.rate_plot(ax, [1, 10, 100], [1, 0.1, 0.01], theory_slope=-0.5, label="cpwl kink")
    assert fitted == pytest.approx(-1.0)
    (handle, theory), label = plotting._ENTRIES[ax][0]
    assert label == "cpwl kink: fit \u22121.00, theory \u22120.50"
    assert theory.get_linestyle() == "--" and theory.get_color() == handle.get_color()
    # slope -1/2 through 2 × the highest of y / x^(-1/2) (the first point): 2 at x = 1, 0.2 at x = 100
    np.testing.assert_allclose(theory.get_xdata(), [1, 100])
    np.testing.assert_allclose(theory.get_ydata(), [2, 0.2])
    ax.set_ylabel("error")
    assert not [p for p in problems(fig) if "theory line" in p]


def test_legend_lists_series_once_and_plain_labelled_lines():
    fig, ax = plotting.figure()
    plotting.rate_plot(ax, [1, 10], [1, 0.1], upper=[2, 0.2], theory_slope=-1, label="a")
    ax.plot([1, 10], [0.5, 0.05], label="plain")
    texts = [t.get_text() for t in plotting.legend(ax).get_texts()]
    assert texts == ["a: 2 points, no fit, theory \u22121.00", "plain"]  # two points are not a fit


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 100), st.floats(0.01, 100)), min_size=1, max_size=6),
       st.sampled_from([-2.0, -0.5, 0.0, 1.0]), st.sampled_from(["above", "below"]), st.floats(1.1, 5))
def test_slope_guide_is_parallel_and_factor_beyond_every_point(points, slope, side, factor):
    x, y = np.array(points).T
    fig, ax = plotting.figure()
    line = plotting.slope_guide(ax, x, y, slope, side=side, factor=factor, text="t")
    gx, gy = line.get_data()
    np.testing.assert_allclose(gx, [x.min(), x.max()])
    anchor = gy / gx**slope
    assert anchor[0] == pytest.approx(anchor[1])  # ∝ x^slope
    ratio = anchor[0] * x**slope / y  # the guide's height over each point
    if side == "above":
        assert ratio.min() == pytest.approx(factor)
    else:
        assert ratio.max() == pytest.approx(1 / factor)
    plt.close(fig)


def test_slope_guide_rejects_bad_arguments():
    fig, ax = plotting.figure()
    with pytest.raises(ValueError, match="side"):
        plotting.slope_guide(ax, [1, 2], [1, 2], 1, side="left")
    with pytest.raises(ValueError, match="factor"):
        plotting.slope_guide(ax, [1, 2], [1, 2], 1, factor=1)
    with pytest.raises(ValueError, match="x, y"):
        plotting.slope_guide(ax, [0, -1], [1, 2], 1)


def test_fraction():
    assert plotting.fraction(-0.5) == "\u22121/2"
    assert plotting.fraction(2.0) == "+2"
    assert plotting.fraction(0.0) == "0"
    assert plotting.fraction(-1 / 6) == "\u22121/6"
    assert plotting.fraction(0.123456) == "+0.12"  # no small fraction within 1e-9


def test_figure_legend_lists_each_series_fits_panel_by_panel():
    fig, axes = plotting.figure(2, legend_rows=2)
    for ax, (n, slope) in zip(axes, ((1, -1.0), (2, -0.5))):
        x = np.array([2.0, 4.0, 8.0])
        plotting.rate_plot(ax, x, x**slope, theory_slope=slope, label="kink")
    plotting.rate_plot(axes[1], [2, 4], [3, 2], theory_slope=-0.5, label="cusp")
    texts = [t.get_text() for t in plotting.figure_legend(fig, axes, panels=[1, 2]).get_texts()]
    assert texts == ["kink: fit \u22121.00, \u22120.50; theory \u22121.00, \u22120.50 (n = 1, 2)",
                     "cusp: fit none (2 points); theory \u22120.50 (n = 2)"]
    with pytest.raises(ValueError, match="panels"):
        plotting.figure_legend(fig, axes, panels=[1])


def test_checks_catch_missing_y_label_code_names_theory_on_data_and_repeated_legends():
    fig, axes = plotting.figure(2, legend_rows=2)
    for ax in axes:
        ax.plot([1, 2, 3], [1, 2, 3], "o-", label="trained_moe")
        ax.plot([1, 2, 3], [1, 2, 3], "--", color="0.3")  # a theory line exactly on the data
        ax.plot([1, 2, 3], [5, 6, 7], ":", color="0.3")  # one beside it
        ax.set_title(f"panel {ax is axes[1]}")
        plotting.legend(ax)
    axes[0].set_ylabel(r"$x_1$ and $\|f\|$")  # subscripts in mathtext are no code names
    found = "\n".join(problems(fig))
    assert "panel 'panel True' has data but no y label" in found and "'panel False' has data" not in found
    assert found.count("code name 'trained_moe'") == 2 and "code name 'x_1'" not in found
    assert found.count("a theory line lies on the data") == 2
    assert "legend of series ['trained_moe'] is repeated on panels ['panel False', 'panel True']" in found


def test_categorical_axis_needs_no_y_label():
    fig, ax = plotting.figure()
    ax.plot([1, 2], [0, 1], "o")
    ax.set_yticks([0, 1], ["trained MoMLP", "one MLP"])
    assert problems(fig) == []


def test_coinciding_series_are_drawn_hollow_and_say_so():
    fig, ax = plotting.figure()
    first = plotting.plot_series(ax, [1, 2, 3], [1, 4, 9], "relu", marker="o")
    second = plotting.plot_series(ax, [1, 2, 3], [1, 4, 9], "prelu", marker="s")
    third = plotting.plot_series(ax, [1, 2, 5], [1, 4, 7], "other", marker="^")
    assert second.get_label() == "prelu\n(hollow: on relu)" and second.get_markerfacecolor() == "none"
    assert second.get_markersize() > first.get_markersize()
    assert third.get_label() == "other\n(hollow: partly on relu, prelu)"
    assert third.get_markersize() > second.get_markersize()


def test_series_styles_are_distinct_pairs():
    keys = [(f, r) for f in ("constant", "cpwl", "optimal") for r in (0, 0.5, 1, 2)]
    styles = plotting.series_styles(keys, color_by=lambda k: k[0], marker_by=lambda k: k[1])
    assert len({(s["color"], s["marker"]) for s in styles.values()}) == len(keys)
    assert styles["cpwl", 0]["color"] == styles["cpwl", 2]["color"]
    assert len({(s["color"], s["marker"]) for s in plotting.series_styles(range(72)).values()}) == 72
    with pytest.raises(ValueError, match="distinct"):
        plotting.series_styles(keys, color_by=lambda k: k[0], marker_by=lambda k: 0)


def test_tight_layout_after_house_figure_is_silent(recwarn):
    fig, ax = plotting.figure()
    ax.plot([1, 2], [1, 2], label="a")
    plotting.legend(ax)
    fig.tight_layout()  # what a notebook does; saving lays out with constrained layout instead
    assert not [w for w in recwarn if "layout" in str(w.message)]
    assert "Constrained" not in type(plotting.lay_out(fig).get_layout_engine()).__name__  # kept as the user chose


def test_import_leaves_the_backend_alone():
    code = "import matplotlib; matplotlib.use('svg'); import moe_approx.plotting; print(matplotlib.get_backend())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "svg"
