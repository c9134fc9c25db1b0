"""Small charts as inline SVG, drawn on the server: no JavaScript, no style sheet (the
pages' Content-Security-Policy allows no inline styles; SVG presentation attributes are
not styles), a few hundred bytes each.

Each chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>`
(screen readers read those; the page's table beside it has every figure), scales to the
width of the page (a viewBox 240 units wide: a 240 to 320 px phone draws it at about 1:1,
its 10-unit text at about 10 px), and gives every bar a `<title>` with its exact value (a
tooltip where there is a mouse). Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 240
BAR = "#0645ad"  # the pages' link blue: 8.6:1 on white
EMPTY = "#d6d6d6"  # the unfilled rest of a horizontal bar
INK = "#111"
AXIS = "#555"


@dataclass(frozen=True)
class Bar:
    """One bar: its label on the chart, its value, and its tooltip (the exact figure)."""

    label: str
    value: float
    tip: str
    value_text: str = ""  # written beside a horizontal bar; "" for none


def _n(x: float) -> str:
    """A coordinate with at most one decimal, without trailing zeros."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _open(chart_id: str, title: str, desc: str, height: float) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {_n(height)}" width="100%" role="img" '
            f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
            f'font-family="sans-serif" font-size="10">'
            f'<title id="{escape(chart_id)}-t">{escape(title)}</title>'
            f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>')


def column_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar], *,
                 height: int = 96) -> Markup:
    """Vertical bars left to right (days, say), under the title, on a scale from 0 to
    the largest value (written at the top right); the first, middle and last labels
    under the axis. `chart_id` must be unique in the page (it names the title and
    description)."""
    top, bottom, left = 16, 14, 2
    plot = height - top - bottom
    peak = max((b.value for b in bars), default=0)
    largest = peak or 1  # the scale: all zero still draws (flat) bars
    slot = (WIDTH - 2 * left) / max(len(bars), 1)
    parts = [_open(chart_id, title, desc, height),
             f'<text x="{left}" y="10" fill="{INK}" font-weight="bold">'
             f'{escape(_clip(title, 36))}</text>',
             f'<text x="{WIDTH - left}" y="10" text-anchor="end" fill="{INK}">max '
             f'{escape(_count(max(peak, 0)))}</text>',
             f'<line x1="0" y1="{top + plot}" x2="{WIDTH}" y2="{top + plot}" '
             f'stroke="{AXIS}"/>']
    for i, bar in enumerate(bars):
        h = plot * max(bar.value, 0) / largest
        parts.append(f'<rect x="{_n(left + i * slot + slot * 0.15)}" y="{_n(top + plot - h)}" '
                     f'width="{_n(slot * 0.7)}" height="{_n(h)}" fill="{BAR}">'
                     f'<title>{escape(bar.tip)}</title></rect>')
    shown = sorted({0, len(bars) // 2, len(bars) - 1}) if bars else []
    for i in shown:
        anchor = "start" if i == 0 else "end" if i == len(bars) - 1 else "middle"
        x = left if anchor == "start" else WIDTH - left if anchor == "end" else \
            left + (i + 0.5) * slot
        parts.append(f'<text x="{_n(x)}" y="{height - 3}" text-anchor="{anchor}" '
                     f'fill="{INK}">{escape(bars[i].label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar], *,
              scale: float | None = None) -> Markup:
    """Horizontal bars top to bottom, each under its label with its value written at the
    end, on a scale from 0 to `scale` (default: the largest value); the rest of each
    bar's track is drawn light grey, so a share reads as a part of the whole."""
    row, label_h, bar_h = 26, 11, 10
    largest = scale or max((b.value for b in bars), default=0) or 1
    track = WIDTH - 40  # room for the value after the track
    height = row * len(bars) + 2
    parts = [_open(chart_id, title, desc, height)]
    for i, bar in enumerate(bars):
        y = i * row
        w = track * min(max(bar.value, 0), largest) / largest
        parts.append(f'<text x="0" y="{y + label_h - 2}" fill="{INK}">'
                     f'{escape(_clip(bar.label, 44))}</text>')
        if scale:
            parts.append(f'<rect x="0" y="{y + label_h}" width="{track}" height="{bar_h}" '
                         f'fill="{EMPTY}"/>')
        parts.append(f'<rect x="0" y="{y + label_h}" width="{_n(w)}" height="{bar_h}" '
                     f'fill="{BAR}"><title>{escape(bar.tip)}</title></rect>')
        if bar.value_text:
            parts.append(f'<text x="{track + 4}" y="{y + label_h + bar_h - 1}" '
                         f'fill="{INK}">{escape(bar.value_text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
