"""Inline SVG charts rendered on the server (no JavaScript, no external assets).

Every text in a chart (titles, tooltips, axis labels) is escaped: names are user input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 720, 184, 80, 24, 14, 38
X_TICKS = 6  # labelled points on the x axis at most (first and last included)
# A y axis label: a format string for the value ("{:.0f}%") or a function of it.
UnitLabel = str | Callable[[float], str]


@dataclass(frozen=True)
class Point:
    value: float
    label: str  # the tooltip (escaped)
    href: str | None = None
    color: str = "#3b6fd4"
    x_label: str = ""  # under the x axis, for the labelled points (e.g. "#42")
    current: bool = False  # outlined (bar charts: the result the page is about)


def axis_duration(elapsed_us: float) -> str:
    """A duration short enough for a y axis label: 850 µs, 12 ms, 3.4 s, 2.5 min, 1.2 h."""
    if elapsed_us < 1000:
        return f"{elapsed_us:.0f} µs"
    if elapsed_us < 1_000_000:
        return f"{elapsed_us / 1000:.0f} ms"
    seconds = elapsed_us / 1_000_000
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def tick_indices(count: int, ticks: int = X_TICKS) -> list[int]:
    """Up to `ticks` evenly spaced indices of `count` points, first and last included."""
    if count <= ticks:
        return list(range(count))
    step = (count - 1) / (ticks - 1)
    return sorted({round(i * step) for i in range(ticks)})


class _Frame:
    """The plot area, the y grid with its labels and the labelled x axis."""

    def __init__(self, title: str, max_value: float, unit_label: UnitLabel) -> None:
        self.max_value = max_value or 1.0
        self.plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
        self.plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
        self.parts = [
            f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>",
        ]
        label = unit_label.format if isinstance(unit_label, str) else unit_label
        for fraction in (0, 0.5, 1):
            y = self.y(self.max_value * fraction)
            self.parts.append(
                f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" '
                f'y2="{y:.1f}"/><text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
                f'text-anchor="end">{escape(label(self.max_value * fraction))}</text>'
            )

    def y(self, value: float) -> float:
        return PAD_TOP + self.plot_h - min(value, self.max_value) / self.max_value * self.plot_h

    def x_axis(self, xs: Sequence[float], points: Sequence[Point], x_title: str) -> None:
        base = PAD_TOP + self.plot_h
        ticks = tick_indices(len(points))
        for i in ticks:
            if points[i].x_label:
                x = xs[i]
                # The outer labels of a long axis end at its ends, not beyond them.
                anchor = "middle"
                if len(ticks) > 2 and i == ticks[0]:
                    anchor = "start" if x - PAD_LEFT < 20 else anchor
                elif len(ticks) > 2 and i == ticks[-1]:
                    anchor = "end" if WIDTH - PAD_RIGHT - x < 20 else anchor
                self.parts.append(
                    f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{base:.1f}" '
                    f'y2="{base + 4:.1f}"/><text class="axis" x="{x:.1f}" y="{base + 16:.1f}" '
                    f'text-anchor="{anchor}">{escape(points[i].x_label)}</text>'
                )
        if x_title:
            self.parts.append(
                f'<text class="axis axis-title" x="{PAD_LEFT + self.plot_w / 2:.1f}" '
                f'y="{HEIGHT - 4}" text-anchor="middle">{escape(x_title)}</text>'
            )

    def markup(self) -> Markup:
        return Markup("".join([*self.parts, "</svg>"]))


def _linked(element: str, p: Point) -> str:
    return f'<a href="{escape(p.href)}">{element}</a>' if p.href else element


def line_chart(
    points: Sequence[Point],
    *,
    max_value: float,
    unit_label: UnitLabel,
    title: str,
    x_title: str = "",
) -> Markup:
    """A line with a dot per point (linked when `href`), y from 0 to `max_value`, some
    points' `x_label` under the x axis and `x_title` below them."""
    if not points:
        return Markup("")
    frame = _Frame(title, max_value, unit_label)
    step = frame.plot_w / max(1, len(points) - 1)
    xs = [
        PAD_LEFT + (i * step if len(points) > 1 else frame.plot_w / 2) for i in range(len(points))
    ]
    coords = [(x, frame.y(p.value)) for x, p in zip(xs, points, strict=True)]
    frame.x_axis(xs, points, x_title)
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    frame.parts.append(f'<polyline class="line" points="{path}"/>')
    for (x, y), p in zip(coords, points, strict=True):
        dot = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{escape(p.color)}">'
            f"<title>{escape(p.label)}</title></circle>"
        )
        frame.parts.append(_linked(dot, p))
    return frame.markup()


def bar_chart(
    points: Sequence[Point],
    *,
    max_value: float,
    unit_label: UnitLabel,
    title: str,
    x_title: str = "",
) -> Markup:
    """A bar per point (its colour, linked when `href`, outlined when `current`), height
    from 0 to `max_value` (a value of 0 still shows a sliver), labelled x axis."""
    if not points:
        return Markup("")
    frame = _Frame(title, max_value, unit_label)
    slot = frame.plot_w / max(len(points), 1)
    width = max(1.0, min(slot * 0.8, 40.0))
    xs = [PAD_LEFT + slot * (i + 0.5) for i in range(len(points))]
    frame.x_axis(xs, points, x_title)
    base = PAD_TOP + frame.plot_h
    for x, p in zip(xs, points, strict=True):
        top = min(frame.y(p.value), base - 2)
        outline = ' class="current"' if p.current else ""
        bar = (
            f'<rect{outline} x="{x - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{base - top:.1f}" fill="{escape(p.color)}">'
            f"<title>{escape(p.label)}</title></rect>"
        )
        frame.parts.append(_linked(bar, p))
    return frame.markup()
