"""Inline SVG charts rendered on the server (no JavaScript, no external assets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 720, 160, 48, 12, 14


@dataclass(frozen=True)
class Point:
    value: float
    label: str  # the tooltip (escaped)
    href: str | None = None
    color: str = "#3b6fd4"


def line_chart(points: Sequence[Point], *, max_value: float, unit_label: str, title: str) -> Markup:
    """A line with a dot per point (linked when `href`), y from 0 to `max_value`."""
    if not points:
        return Markup("")
    max_value = max_value or 1.0
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - 2 * PAD_Y
    step = plot_w / max(1, len(points) - 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        x = PAD_LEFT + (i * step if len(points) > 1 else plot_w / 2)
        return x, PAD_Y + plot_h - min(value, max_value) / max_value * plot_h

    coords = [xy(i, p.value) for i, p in enumerate(points)]
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_Y + plot_h - fraction * plot_h
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}"/><text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(unit_label.format(max_value * fraction))}</text>'
        )
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts.append(f'<polyline class="line" points="{path}"/>')
    for (x, y), p in zip(coords, points, strict=True):
        dot = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{escape(p.color)}">'
            f"<title>{escape(p.label)}</title></circle>"
        )
        if p.href:
            dot = f'<a href="{escape(p.href)}">{dot}</a>'
        parts.append(dot)
    parts.append("</svg>")
    return Markup("".join(parts))
