"""The report's charts, drawn server-side with matplotlib (Agg, SVG) from the report's data at render time.

Each function takes plain figures (the report's JSON) and returns an SVG document as text; the PDF
embeds it as a data URI (`data_uri`). No network and no font downloads: text stays text in the SVG
(svg.fonttype "none") in Liberation Sans (DejaVu Sans where it is missing), which WeasyPrint draws
with the system's fonts; ids are salted
by a constant so the same data gives the same SVG.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable, Sequence
from typing import Any, Literal, ParamSpec

import matplotlib

matplotlib.use("Agg")  # no display, whatever the environment says

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

P = ParamSpec("P")
# One palette for the report (templates/reporting/report.html uses the same colours).
INK = "#1d2433"
MUTED = "#5b6478"
GRID = "#e3e7ef"
BLUE = "#2657d6"
LIGHT_BLUE = "#a9bdf2"
TEAL = "#0f9d8a"
LIGHT_TEAL = "#9ad8cf"
AMBER = "#f2a33a"
RED = "#d64545"
GREEN = "#2e9e5b"
VIOLET = "#8a5cd1"
GREY = "#b8bfcc"
SERIES = (BLUE, TEAL, AMBER, VIOLET, RED, GREEN, "#4fb3e8", GREY)

STYLE: dict[Any, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["Liberation Sans", "Arial", "DejaVu Sans"],
    "font.size": 8,
    "axes.edgecolor": GRID,
    "axes.labelcolor": MUTED,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "axes.titlecolor": INK,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "text.color": INK,
    "svg.fonttype": "none",
    "svg.hashsalt": "callboard-report",
    "legend.frameon": False,
    "legend.fontsize": 7.5,
}
WIDTH = 7.1  # inches: the A4 page's text width at the template's margins
HALF = 3.45


def styled(draw: Callable[P, str]) -> Callable[P, str]:
    """Draw with the report's style: matplotlib reads its settings when each text or tick is made, so the
    whole drawing, not only the figure's creation, runs inside the style."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> str:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return drawn


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", transparent=True, metadata={"Date": None})
    return out.getvalue()


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _tidy(ax: Axes, *, grid_axis: Literal["x", "y"] = "y") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color(GRID)
    ax.spines["bottom"].set_color(GRID)
    ax.tick_params(length=0)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _integers(ax: Axes, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(nbins=4, integer=True, min_n_ticks=1))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))


def _active_hours(hours: Sequence[dict[str, Any]], keys: Sequence[str]) -> tuple[int, int]:
    """The span of hours with anything in them (at least 8:00–18:00), so an office day is not squeezed."""
    busy = [row["hour"] for row in hours if any(row[k] for k in keys)]
    first, last = min(busy, default=8), max(busy, default=18)
    return min(first, 8), max(last, 18)


@styled
def time_of_day(hours: Sequence[dict[str, Any]]) -> str:
    """Calls per hour of the day (successful and the rest, stacked) above conversations per hour."""
    first, last = _active_hours(hours, ("calls", "conversations"))
    shown = [row for row in hours if first <= row["hour"] <= last]
    x = [row["hour"] for row in shown]
    fig = _figure(WIDTH, 2.15)
    calls_ax, chats_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    successful = [row["successful"] for row in shown]
    other = [row["calls"] - row["successful"] for row in shown]
    calls_ax.bar(x, successful, width=0.72, color=BLUE, label="Successful calls")
    calls_ax.bar(x, other, width=0.72, bottom=successful, color=LIGHT_BLUE, label="Other calls")
    calls_ax.set_title("Calls", loc="left")
    calls_ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2)  # beside the title, above the bars
    chats_ax.bar(x, [row["conversations"] for row in shown], width=0.72, color=TEAL)
    chats_ax.set_title("Conversations", loc="left")
    chats_ax.set_xticks(x, [f"{h:02d}" for h in x])
    chats_ax.set_xlabel("Hour of the day (local time)")
    for ax, values in (
        (calls_ax, [row["calls"] for row in shown]),
        (chats_ax, [row["conversations"] for row in shown]),
    ):
        _tidy(ax)
        _integers(ax)
        ax.set_xlim(first - 0.6, last + 0.6)
        ax.set_ylim(0, max(values, default=0) * 1.05 or 1)  # an hour without anything sits on the axis
    return _svg(fig)


@styled
def donut(rows: Sequence[dict[str, Any]], *, centre: str, centre_label: str) -> str:
    """A donut of the rows' values (label, value), the total in the middle, a legend with shares."""
    shown = [row for row in rows if row["value"] > 0]
    fig = _figure(HALF, 2.2)
    ax = fig.subplots()
    total = sum(row["value"] for row in shown)
    if total:
        colours = [row.get("colour") or SERIES[n % len(SERIES)] for n, row in enumerate(shown)]
        ax.pie(
            [row["value"] for row in shown],
            colors=colours,
            startangle=90,
            counterclock=False,
            wedgeprops={"width": 0.36, "edgecolor": "white", "linewidth": 1.2},
        )
        ax.legend(
            [f"{row['label']}  {row['value']:,} ({row['value'] / total * 100:.1f} %)" for row in shown],
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            handlelength=0.9,
        )
    else:
        ax.pie([1], colors=[GRID], wedgeprops={"width": 0.36})
    ax.text(0, 0.08, centre, ha="center", va="center", fontsize=12, fontweight="bold", color=INK)
    ax.text(0, -0.2, centre_label, ha="center", va="center", fontsize=7, color=MUTED)
    ax.set_aspect("equal")
    return _svg(fig)


@styled
def horizontal_bars(rows: Sequence[dict[str, Any]], *, colour: str = BLUE) -> str:
    """One bar per row (label, value), values written at the bars' ends."""
    fig = _figure(HALF, 0.3 * len(rows) + 0.5)
    ax = fig.subplots()
    labels = [row["label"] for row in rows][::-1]
    values = [row["value"] for row in rows][::-1]
    colours = [row.get("colour") or colour for row in rows][::-1]
    bars = ax.barh(labels, values, color=colours, height=0.62)
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=7.5, color=INK)
    ax.set_xlim(0, max(values, default=0) * 1.18 or 1)
    _tidy(ax, grid_axis="x")
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    return _svg(fig)


@styled
def funnel(stages: Sequence[dict[str, Any]], *, colour: str = BLUE) -> str:
    """Stages (label, value) as centred bars narrowing down the page, each with its share of the first."""
    fig = _figure(HALF, 0.42 * len(stages) + 0.3)
    ax = fig.subplots()
    top = max((stage["value"] for stage in stages), default=0) or 1
    first = stages[0]["value"] if stages else 0
    for n, stage in enumerate(stages):
        y = len(stages) - 1 - n
        width = max(stage["value"] / top, 0.004)
        shade = matplotlib.colors.to_rgba(colour, 1.0 - 0.16 * n)
        ax.barh(y, width, left=(1 - width) / 2, height=0.78, color=shade)
        share = f" · {stage['value'] / first * 100:.1f} %" if first and n else ""
        inside = width > 0.45
        ax.text(
            0.5 if inside else (1 + width) / 2 + 0.02,
            y,
            f"{stage['label']}  {stage['value']:,}{share}",
            ha="center" if inside else "left",
            va="center",
            fontsize=7.5,
            color="white" if inside else INK,
            fontweight="bold" if inside else "normal",
        )
    ax.set_xlim(0, 1.45 if any(s["value"] / top <= 0.45 for s in stages) else 1)
    ax.set_ylim(-0.5, len(stages) - 0.5)
    ax.axis("off")
    return _svg(fig)


@styled
def compared_bars(
    categories: Sequence[str],
    current: Sequence[float],
    previous: Sequence[float],
    *,
    labels: tuple[str, str],
    colours: tuple[str, str] = (BLUE, LIGHT_BLUE),
    width: float = HALF,
    height: float = 2.1,
    horizontal: bool = False,
) -> str:
    """This period's bars beside the previous period's, per category."""
    fig = _figure(width, height)
    ax = fig.subplots()
    positions = list(range(len(categories)))
    bar = 0.38
    if horizontal:
        positions = positions[::-1]
        # this period's bar above the previous one's, as the legend reads
        ax.barh([p + bar / 2 for p in positions], current, height=bar, color=colours[0], label=labels[0])
        ax.barh([p - bar / 2 for p in positions], previous, height=bar, color=colours[1], label=labels[1])
        ax.set_yticks(positions, list(categories))
        _tidy(ax, grid_axis="x")
        _integers(ax, "x")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2)
    else:
        ax.bar([p - bar / 2 for p in positions], current, width=bar, color=colours[0], label=labels[0])
        ax.bar([p + bar / 2 for p in positions], previous, width=bar, color=colours[1], label=labels[1])
        ax.set_xticks(positions, list(categories))
        _tidy(ax)
        _integers(ax)
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2)
    return _svg(fig)
