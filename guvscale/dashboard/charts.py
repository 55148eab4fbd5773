"""Server-side SVG line charts: series in, markup out. Pure.

Drawn on the server so the graphs need no script, work on a phone (the SVG
scales to its box) and pass a strict Content-Security-Policy: colours are
presentation attributes, never `style`. Every label is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 30
COLOURS = ("#5a3fc0", "#1d7a46", "#b3261e", "#9a6a00")


@dataclass(frozen=True)
class Line:
    label: str
    points: Sequence[tuple[float, float | None]]  # (unix seconds, value); None breaks the line
    step: bool = False  # hold each value until the next point (dyno counts)
    dashed: bool = False


@dataclass(frozen=True)
class Marker:
    at: float  # unix seconds
    label: str  # the tooltip
    bad: bool = False  # an error rather than a change


@dataclass(frozen=True)
class Chart:
    title: str
    start: float
    end: float
    lines: Sequence[Line]
    markers: Sequence[Marker] = field(default_factory=tuple)
    unit: str = ""
    integer: bool = False  # y ticks are whole numbers (dynos, jobs)


def nice_max(value: float, integer: bool = False) -> float:
    """A round top for the y axis at or above `value` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        top = m * 10**exp
        if top >= value - 1e-9 and (not integer or top == int(top)):
            return float(top)
    return float(10 ** (exp + 1))


def _fmt(v: float) -> str:
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _time_label(t: float, span: float) -> str:
    moment = dt.datetime.fromtimestamp(t, dt.UTC)
    return moment.strftime("%a %H:%M" if span > 2 * 86400 else "%H:%M")


def render(chart: Chart) -> str:
    """The chart as an `<svg>` element (a string safe to insert as markup)."""
    span = max(chart.end - chart.start, 1e-9)
    values = [v for line in chart.lines for _, v in line.points if v is not None]
    top = nice_max(max(values, default=0.0), chart.integer)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (min(max(t, chart.start), chart.end) - chart.start) / span * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - min(v, top) / top * plot_h

    scale = _Scale(chart.start, chart.end, LEFT, plot_w / span, TOP + plot_h, plot_h / top)
    title = escape(chart.title)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{title}</title>",
    ]
    step = nice_max(top / 4, True) if chart.integer else top / 4
    ticks = [k * step for k in range(int(top / step + 1e-9) + 1)]
    for v in ticks:  # y grid and ticks
        yy = y(v)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
            'stroke="#dde1e8" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 4}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5f6675">{escape(_fmt(v))}</text>'
        )
    for i in range(5):  # time ticks
        t = chart.start + span * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="#5f6675">{escape(_time_label(t, span))}</text>'
        )
    for m in cluster(chart.markers, chart.start, chart.end, span / plot_w * MARKER_PX):
        # Colours and dashes come from style.css (classes), which keeps a week of
        # markers small; the triangle on top is what a finger taps on a phone.
        xx = x(m.at)
        out.append(
            f'<g class="marker{" bad" if m.bad else ""}"><title>{escape(m.label)}</title>'
            f'<path class="mk" d="M{xx:.1f},{TOP}v{plot_h}"/>'
            f'<path class="tip" d="M{xx - 4:.1f},{TOP}h8l-4,6z"/></g>'
        )
    for n, line in enumerate(chart.lines):
        colour = COLOURS[n % len(COLOURS)]
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        for d in _paths(line, scale):
            out.append(
                f'<path class="series" d="{d}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dash}><title>{escape(line.label)}</title></path>'
            )
    out.append("</svg>")
    return "".join(out)


MARKER_PX = 6  # markers closer than this merge into one


def cluster(markers: Sequence[Marker], start: float, end: float, within: float) -> list[Marker]:
    """The markers in [start, end], those closer than `within` seconds merged into one
    that says how many it holds (a week of changes would otherwise bury the lines)."""
    inside = sorted((m for m in markers if start <= m.at <= end), key=lambda m: m.at)
    out: list[Marker] = []
    group: list[Marker] = []

    def flush() -> None:
        if not group:
            return
        if len(group) == 1:
            out.append(group[0])
        else:
            bad = [m for m in group if m.bad]
            last = (bad or group)[-1]
            label = f"{len(group)} changes; {'last failed: ' if bad else 'last: '}{last.label}"
            out.append(Marker(group[-1].at, label, bad=bool(bad)))
        group.clear()

    for m in inside:
        if group and m.at - group[0].at > within:
            flush()
        group.append(m)
    flush()
    return out


@dataclass(frozen=True)
class _Scale:
    """Data to pixels: x = x0 + (t - t0) * sx, y = y0 - v * sy (v within 0..top)."""

    t0: float
    t1: float
    x0: float
    sx: float
    y0: float
    sy: float


def _paths(line: Line, k: _Scale) -> list[str]:
    """One SVG path per unbroken run of points (inlined arithmetic: a week of five
    roles is some 7,000 points per page)."""
    paths: list[str] = []
    run: list[str] = []
    append = run.append
    t0, t1, x0, sx, y0, sy = k.t0, k.t1, k.x0, k.sx, k.y0, k.sy
    step = line.step
    for t, v in line.points:
        if v is None:
            if run:  # a lone point still shows, as a dot-sized stroke
                paths.append("".join(run) if len(run) > 1 else run[0] + "h1")
                run.clear()
            continue
        xx = x0 + ((t0 if t < t0 else t1 if t > t1 else t) - t0) * sx
        yy = y0 - v * sy
        if not run:
            append(f"M{xx:.1f},{yy:.1f}")
        elif step:
            append(f"H{xx:.1f}V{yy:.1f}")
        else:
            append(f"L{xx:.1f},{yy:.1f}")
    if run:
        paths.append("".join(run) if len(run) > 1 else run[0] + "h1")
    return paths


def legend(chart: Chart) -> list[tuple[str, str]]:
    """(label, css class) per line, for the legend printed above the chart
    (classes `c0`..`c3` in style.css match COLOURS; `dashed` for dashed lines)."""
    return [
        (line.label, f"c{n % len(COLOURS)}" + (" dashed" if line.dashed else ""))
        for n, line in enumerate(chart.lines)
    ]
