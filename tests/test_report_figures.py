"""The report's figures as a reader sees them: one look per group everywhere,
focused threshold axes, one zero-anchored heatmap scale, no empty panels and
tick labels that never overlap (measured from matplotlib's text extents)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from report_audit import audit_metrics, audit_spec

from audit.report import figures, run_info_from_spec, threshold_figures
from audit.report.context import build_context
from audit.report.curves import Series, Sweep
from audit.report.panels import heatmap_scale
from audit.report.reading import ALL, GroupRate
from audit.report.styles import OVERALL_STYLE, GroupStyles, nth_style

WORDS = dict(titles={"fpir": "False alert rate (FPIR)", "fnir": "Miss rate (FNIR)"},
             overall_label="All (overall)")


@pytest.fixture(scope="module")
def context():
    """The simulated audit: gender, ethnicity and their intersection, a condition."""
    run = run_info_from_spec(audit_spec().model_dump(mode="json"), run_id="sim-1")
    return build_context(audit_metrics(), run)


@pytest.fixture(scope="module")
def styles(context):
    return GroupStyles(context.group_labels)


def test_styles_are_assigned_once_in_the_report_order():
    styles = GroupStyles(["female", "male", "asian", "female"])
    assert styles["female"] == nth_style(0) and styles["male"] == nth_style(1)
    assert styles["asian"] == nth_style(2) and styles[ALL] == OVERALL_STYLE
    assert styles["not listed"] == nth_style(3)  # a stray label never borrows a look
    looks = {(nth_style(i).colour, nth_style(i).dash) for i in range(42)}
    assert len(looks) == 42  # distinct colour and dash for 42 groups


def test_context_lists_single_groupings_first_the_smallest_first(context):
    labels = context.group_labels
    assert labels[:2] == ("female", "male")  # gender (2 groups) before ethnicity (4)
    assert labels.index("white") < labels.index("female x asian")
    assert ALL not in labels and len(labels) == len(set(labels))


def _legend(fig) -> dict[str, object]:
    legend = fig.legends[0] if fig.legends else fig.axes[0].get_legend()
    return {t.get_text(): h for t, h in zip(legend.get_texts(), legend.legend_handles)}


def test_a_group_has_one_look_in_every_figure(context, styles):
    sweep = context.results.sweeps[0]
    det = context.results.dets[0]
    seen = [_legend(threshold_figures.sweep_figure(sweep, xlabel="t", mark_labels=["m"] * len(sweep.marks),
                                                   styles=styles, **WORDS)),
            _legend(threshold_figures.det_figure(det, xlabel="x", ylabel="y", overall_label="All (overall)",
                                                 styles=styles))]
    for legend in seen:
        for group in ("female", "male"):
            line = legend[group]
            assert (line.get_color(), line.get_marker()) == (styles[group].colour, styles[group].marker)
    panel = context.results.identification[0]
    fig = figures.forest_figure(panel, titles={}, overall_label="all", insufficient="-",
                                no_trials="-", styles=styles)
    rows = ([panel.overall] if panel.overall else []) + list(panel.rows)
    for container in fig.axes[0].containers:
        line = container.lines[0]
        group = rows[len(rows) - 1 - int(round(line.get_ydata()[0]))].group
        assert line.get_color() == styles[group].colour


def test_a_panel_with_one_group_draws_it_in_its_own_colour(styles):
    grid = tuple(np.linspace(0.5, 0.9, 9))
    line = lambda g, v, ok=True: Series(g, grid, tuple(v), ok)  # noqa: E731
    down, up = np.geomspace(0.5, 1e-4, 9), np.geomspace(1e-3, 0.9, 9)
    sweep = Sweep("s", "identification", "gender", ("fpir", "fnir"),
                  ((line(ALL, down), line("female", down), line("male", down)),
                   (line(ALL, up), line("female", up, False), line("male", up))), ())
    fig = threshold_figures.sweep_figure(sweep, xlabel="t", mark_labels=[], styles=styles, **WORDS)
    miss = fig.axes[1].get_lines()
    assert [l.get_color() for l in miss] == [OVERALL_STYLE.colour, styles["male"].colour]


def test_sweep_axis_is_focused_and_every_point_is_marked(context):
    sweep = context.results.sweeps[0]
    low, high = sweep.focus
    fpir = dict(zip(sweep.series[0][0].thresholds, sweep.series[0][0].values))
    fnir = dict(zip(sweep.series[1][0].thresholds, sweep.series[1][0].values))
    marks = [p.threshold for p in sweep.marks]
    left = min(min(t for t, v in fpir.items() if v <= 0.10), *marks)  # by the rule, by hand
    right = max(min(t for t, v in fnir.items() if v > 0.50), *marks)
    pad = 0.04 * (right - left)
    assert (low, high) == pytest.approx((left - pad, right + pad))
    assert set(marks) == {p.threshold for p in context.operating_points}
    fig = threshold_figures.sweep_figure(sweep, xlabel="t", mark_labels=[f"m{i}" for i in range(len(sweep.marks))],
                                         **WORDS)
    assert fig.axes[0].get_xlim() == (low, high)
    assert {f"m{i}" for i in range(len(sweep.marks))} <= set(_legend(fig))


def test_no_panel_without_data():
    grid = (0.5, 0.6)
    nothing = Sweep("s", "identification", "gender", ("fpir", "fnir"),
                    ((Series(ALL, grid, (0.1, 0.01), True),), (Series(ALL, grid, (0.0, 0.0), True),)), ())
    fig = threshold_figures.sweep_figure(nothing, xlabel="t", mark_labels=[], **WORDS)
    assert len(fig.axes) == 1 and nothing.drawable == ("fpir",)
    empty = replace(nothing, series=((Series(ALL, grid, (0.0, 0.0), True),),) * 2)
    assert threshold_figures.sweep(empty, figure_id="e", xlabel="t", mark_labels=[], **WORDS) is None


def test_heatmaps_share_one_scale_from_zero(context):
    matrix = context.results.cross[0]
    scale = heatmap_scale(context.results.cross)
    shown = [c.value for m in context.results.cross for row in m.cells for c in row if c and c.shown]
    assert scale == max(shown)
    fig = figures.heatmap_figure(matrix, vmax=scale, xlabel="x", ylabel="y", insufficient="-",
                                 colorbar_label="FMR")
    mesh = fig.axes[0].collections[0]
    assert (mesh.norm.vmin, mesh.norm.vmax) == (0.0, scale)
    texts = [t.get_text() for t in fig.axes[0].texts]
    cell = next(c for row in matrix.cells for c in row if c and c.shown)
    assert any(f"{cell.n_errors:,} / {cell.n_trials:,}" in t for t in texts)  # counts in the cells


def _luminance(rgb) -> float:
    """WCAG relative luminance of an sRGB colour (components in 0-1)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a, b) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_a_strict_thresholds_heatmap_stays_light_and_its_cells_readable(context):
    """On the scale a lenient threshold's large rates set, a strict threshold's small
    rates are near white (not the map's darkest colour), and every cell's text keeps
    a WCAG contrast of at least 4.5 against its colour."""
    from matplotlib.colors import to_rgb

    matrix = context.results.cross[0]
    shown = [c.value for row in matrix.cells for c in row if c and c.shown]
    scale = 20 * max(shown)  # as if another heatmap of the rate reached 20x higher
    fig = figures.heatmap_figure(matrix, vmax=scale, xlabel="x", ylabel="y", insufficient="-",
                                 colorbar_label="FMR")
    mesh = fig.axes[0].collections[0]
    assert _luminance(mesh.cmap(mesh.norm(0.0))) > 0.9  # zero is white
    for value in shown:
        assert _luminance(mesh.cmap(mesh.norm(value))) > 0.7, value
    full = figures.heatmap_figure(matrix, vmax=max(shown), xlabel="x", ylabel="y",
                                  insufficient="-", colorbar_label="FMR")
    for drawn in (fig, full):
        mesh, ax = drawn.axes[0].collections[0], drawn.axes[0]
        cells = [(i, j, c) for i, row in enumerate(matrix.cells) for j, c in enumerate(row)
                 if c and c.shown]
        for i, j, cell in cells:
            text = next(t for t in ax.texts if t.get_position() == (j, i))
            background = mesh.cmap(mesh.norm(cell.value))
            assert _contrast(to_rgb(text.get_color()), background) >= 4.5, (cell.value, text.get_text())


def _crowded_panel(context):
    """A three-rate panel whose small rates print long labels ("0.0200%") on narrow axes."""
    panel = context.results.verification[0]
    def small(rate):
        if rate is None or not rate.shown:
            return rate
        return replace(rate, value=rate.value / 50 + 1e-4, ci_low=1e-4, ci_high=rate.value / 40 + 2e-4)
    rows = tuple(replace(r, rates=tuple(small(x) for x in r.rates)) for r in panel.rows)
    return replace(panel, rows=rows, overall=replace(panel.overall, rates=tuple(small(x) for x in panel.overall.rates)))


def test_thinning_clears_overlapping_tick_labels(context):
    fig = figures.forest_figure(_crowded_panel(context), titles={}, overall_label="all",
                                insufficient="-", no_trials="-")
    for ax in fig.axes:  # force the crowding a careless locator would give
        ax.set_xticks(np.linspace(*ax.get_xlim(), 9))
    assert figures.overlapping_labels(fig)  # the check can fail
    figures.thin_ticks(fig)
    assert figures.overlapping_labels(fig) == []


def test_no_figure_of_the_report_has_overlapping_labels(context, styles):
    made = [figures.forest_figure(p, titles={"fmr": "False match rate (FMR)", "fnmr_incl_fta":
                                             "FNMR counting failures to acquire"},
                                  overall_label="All (overall)", insufficient="insufficient data",
                                  no_trials="no trials", styles=styles)
            for p in context.results.fta + context.results.identification + context.results.verification]
    made += [figures.heatmap_figure(m, vmax=heatmap_scale(context.results.cross), xlabel="x",
                                    ylabel="y", insufficient="insufficient", colorbar_label="FMR")
             for m in context.results.cross]
    made += [threshold_figures.sweep_figure(s, xlabel="t", mark_labels=["m"] * len(s.marks), **WORDS)
             for s in context.results.sweeps]
    made += [threshold_figures.disparity_figure(d, title="t", xlabel="x", ylabel="y",
                                                mark_labels=["m"] * len(d.marks), ratio_label="r",
                                                band_label="b", shown_label="s", bound_label="l")
             for d in context.results.disparity]
    for fig in made:
        figures.thin_ticks(fig)
        assert figures.overlapping_labels(fig) == []


def test_insufficient_heatmap_cells_give_their_size_never_their_errors():
    cell = GroupRate("x", 0.01, None, None, None, n_trials=1234, n_subjects=3, n_errors=12,
                     sufficient=False)
    assert figures._cell_text(cell, float("nan"), "insufficient") == "insufficient\nn = 1,234"


def test_a_heatmap_without_a_rate_to_show_is_not_drawn(context):
    matrix = context.results.cross[0]
    hidden = replace(matrix, cells=tuple(tuple(c and replace(c, sufficient=False) for c in row)
                                         for row in matrix.cells))
    words = dict(figure_id="h", vmax=0.01, xlabel="x", ylabel="y", insufficient="-", colorbar_label="c")
    assert figures.heatmap(hidden, **words) is None
    assert figures.heatmap(matrix, **words) is not None
