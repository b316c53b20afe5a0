"""Charts for the HTML report, drawn with matplotlib into inline SVG.

Text stays text in the SVG (the page's search and a test's reading find the labels), every chart
has a title and an axis that names its unit, and each drawing is a self-contained <svg> element
with no script and no external reference. Bars the accompanying sentence names are drawn in the
highlight colour, so the eye finds them first.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from .process_maps import drawing_label

BAR = "#4a6fa5"
WARNING = "#c0392b"  # red: the nights a drift check warned
HIGHLIGHT = "#c62828"
MUTED = "#9aa5b1"
REFERENCE = "#243b53"
# Wide enough for the labels, narrow enough that the text stays readable when a phone scales the
# drawing down to its width (5.5 in is about 400 px at 72 points per inch).
WIDTH_INCHES = 5.5
MIN_BAR_CHART_INCHES = 1.5
LABEL_WIDTH = 30  # characters per line of a bar's label
FONT_SIZE = 9


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    highlight: bool = False


@dataclass(frozen=True)
class Unit:
    """How a chart's values read: the axis name and one value's text."""

    axis: str
    shown: Callable[[float], str]


# Shares to a tenth of a percent, as the tables show them: 3.3%, not 3%.
PERCENT = Unit("share, %", lambda v: f"{v:.1%}")
DAYS = Unit("days", lambda v: f"{v:,.1f} d")
HOURS = Unit("hours", lambda v: f"{v:,.1f} h")
CASES = Unit("cases", lambda v: f"{v:,.0f}")


def _percent_ticks():
    """Tick labels in %, with the fewest decimals that tell the ticks apart: a 0-4% axis reads
    0.0%, 0.5%, 1.0%... rather than 0%, 0%, 1%, 1%."""
    from matplotlib.ticker import Formatter

    class PercentTicks(Formatter):
        decimals = 0

        def set_locs(self, locs):
            ticks, self.decimals = list(locs), 0
            while self.decimals < 3 and len({f"{t:.{self.decimals}%}" for t in ticks}) < len(ticks):
                self.decimals += 1

        def __call__(self, value, pos=None):
            return f"{value:.{self.decimals}%}"

    return PercentTicks()


def wait_unit(hours: Sequence[float | None]) -> tuple[Unit, float]:
    """Hours for short waits, days once any wait is over two days: the unit and the factor that
    turns hours into it."""
    longest = max((h for h in hours if h is not None), default=0.0)
    return (DAYS, 1 / 24) if longest > 48 else (HOURS, 1.0)


def _settings(title: str) -> dict:
    return {
        "svg.fonttype": "none",  # text as <text>, not paths
        "text.parse_math": False,  # a name with two "$" in it is a name, not a formula
        "svg.hashsalt": title,  # ids differ between the drawings of one page, and between runs never
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
        "font.size": FONT_SIZE,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def _svg(figure, title: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    svg = text[text.find("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    # An accessible name, and a size the page's CSS sets (the viewBox keeps the proportions).
    label = escape(title)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    return svg.replace(">", f"><title>{label}</title>", 1)


def _wrapped(label) -> str:
    # As the process maps draw names: no control characters (no XML parser reads them), cut.
    text = "(none)" if label is None else drawing_label(label)
    return "\n".join(textwrap.wrap(text, LABEL_WIDTH, break_long_words=True)) or text


def figure_html(chart_id: str, title: str, unit: Unit, svg: str) -> Markup:
    """The drawing in a <figure> whose caption is its title with its unit."""
    return Markup(
        f'<figure class="chart" data-chart="{escape(chart_id)}" data-unit="{escape(unit.axis)}">'
        f"<figcaption>{escape(title)} ({escape(unit.axis)})</figcaption>{svg}</figure>"
    )


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    unit: Unit,
    *,
    scale: float = 1.0,
    reference: float | None = None,
    reference_label: str = "",
) -> Markup:
    """Horizontal bars, first bar on top, each with its value written at its end; a dashed line
    for a reference value (e.g. the overall rate). `scale` turns the values into the unit (hours
    into days). Bars without a value are left out. Nothing to draw gives an empty string."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    drawn = [b for b in bars if b.value is not None]
    if not drawn:
        return Markup("")
    values = [b.value * scale for b in drawn]
    with rc_context(_settings(chart_id)):
        lines = sum(_wrapped(b.label).count("\n") + 1 for b in drawn)
        # One short bar still needs room for the axis label and the reference's label.
        height = max(MIN_BAR_CHART_INCHES, 0.7 + 0.22 * lines + 0.12 * len(drawn))
        figure = Figure(figsize=(WIDTH_INCHES, height))
        axes = figure.subplots()
        positions = range(len(drawn))
        axes.barh(
            positions,
            values,
            color=[HIGHLIGHT if b.highlight else BAR for b in drawn],
            height=0.65,
        )
        axes.set_yticks(list(positions), [_wrapped(b.label) for b in drawn])
        axes.invert_yaxis()
        axes.set_xlabel(unit.axis)
        high = max(max(values), (reference or 0) * scale, 0)
        low = min(min(values), 0)
        axes.set_xlim(low * 1.15, high * 1.22 or 1)
        for position, value in zip(positions, values, strict=True):
            axes.text(
                value,
                position,
                " " + unit.shown(value),
                va="center",
                ha="left" if value >= 0 else "right",
                fontsize=FONT_SIZE - 1,
            )
        if reference is not None:
            axes.axvline(reference * scale, color=REFERENCE, linestyle="--", linewidth=1)
            axes.text(
                reference * scale,
                -0.75,
                f"{reference_label} {unit.shown(reference * scale)}".strip(),
                ha="center",
                va="bottom",
                fontsize=FONT_SIZE - 1,
                color=REFERENCE,
            )
        if unit is PERCENT:
            axes.xaxis.set_major_formatter(_percent_ticks())
        figure.tight_layout()
        return figure_html(chart_id, title, unit, _svg(figure, title))


def paired_bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    panels: Sequence[tuple[str, Sequence[float | None], Unit]],
    highlight: str | None = None,
) -> Markup:
    """Side-by-side panels of vertical bars over the same categories (e.g. discount bands: win
    rate in one panel, days to pay in the other). A missing value leaves its slot empty."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    if not labels or all(v is None for _, values, _ in panels for v in values):
        return Markup("")
    units = " · ".join(f"{name}: {unit.axis}" for name, _, unit in panels)
    with rc_context(_settings(chart_id)):
        figure = Figure(figsize=(WIDTH_INCHES, 2.9))
        for axes, (name, values, unit) in zip(figure.subplots(1, len(panels)), panels, strict=True):
            positions = range(len(labels))
            heights = [0 if v is None else v for v in values]
            colours = [HIGHLIGHT if label == highlight else BAR for label in labels]
            axes.bar(positions, heights, color=colours, width=0.7)
            axes.set_xticks(list(positions), labels, rotation=35, ha="right")
            axes.set_ylabel(unit.axis)
            axes.set_title(name, fontsize=FONT_SIZE)
            top = max(heights + [0]) or 1
            axes.set_ylim(min(heights + [0]) * 1.2, top * 1.2)
            for position, value in zip(positions, values, strict=True):
                if value is not None:
                    axes.text(
                        position,
                        value,
                        unit.shown(value),
                        ha="center",
                        va="bottom",
                        fontsize=FONT_SIZE - 2,
                    )
            if unit is PERCENT:
                axes.yaxis.set_major_formatter(_percent_ticks())
        figure.tight_layout()
        return figure_html(chart_id, title, Unit(units, str), _svg(figure, title))


def trend_chart(
    chart_id: str,
    title: str,
    series: Sequence[tuple[str, Sequence[tuple[date, float]], Unit]],
    marks: Mapping[str, Iterable[date]] | None = None,
) -> Markup:
    """Small multiples: one line per KPI over its snapshot dates, each panel with its own unit.
    KPIs with fewer than two snapshots have no trend yet and are left out. `marks` (dates per
    series name) are drawn as red points on the line: the nights a drift check warned."""
    from matplotlib import rc_context
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    drawn = [(name, points, unit) for name, points, unit in series if len(points) >= 2]
    if not drawn:
        return Markup("")
    columns = 2 if len(drawn) > 1 else 1
    rows = -(-len(drawn) // columns)
    with rc_context(_settings(chart_id)):
        figure = Figure(figsize=(WIDTH_INCHES, 1.7 * rows + 0.3))
        grid = figure.subplots(rows, columns, squeeze=False)
        for axes in grid.flat[len(drawn) :]:
            axes.set_visible(False)
        for axes, (name, points, unit) in zip(grid.flat, drawn, strict=False):
            days = [day for day, _ in points]
            axes.plot(days, [value for _, value in points], color=BAR, linewidth=1.5, marker=".")
            marked = set((marks or {}).get(name, ()))
            warned = [(day, value) for day, value in points if day in marked]
            if warned:
                axes.plot(
                    [day for day, _ in warned],
                    [value for _, value in warned],
                    linestyle="none",
                    marker="o",
                    color=WARNING,
                    label="drift warning",
                )
                axes.legend(fontsize=FONT_SIZE - 2, loc="best", frameon=False)
            axes.set_title(f"{name} ({unit.axis})", fontsize=FONT_SIZE - 1)
            locator = AutoDateLocator(minticks=2, maxticks=4)
            axes.xaxis.set_major_locator(locator)
            axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
            axes.tick_params(labelsize=FONT_SIZE - 2)
            if unit is PERCENT:
                axes.yaxis.set_major_formatter(_percent_ticks())
        figure.tight_layout()
        return figure_html(chart_id, title, Unit("each panel's own unit", str), _svg(figure, title))
