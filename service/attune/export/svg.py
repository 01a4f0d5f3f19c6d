"""Small inline-SVG plotting for the session report: frames, axes, lines with breaks, spans.

Pure string building with numpy: no fonts, scripts or files are fetched, so the report stays
self-contained. Colours and strokes are SVG presentation attributes (``PAINT``, by class), never
``style=""`` attributes or a stylesheet: the plots look the same wherever the page is shown,
even under a Content-Security-Policy that allows no styles at all (a copy opened from another
page's ``blob:`` URL inherits that page's policy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

WIDTH = 960
MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 16, 12, 34
_FONT = 'font-family="system-ui, sans-serif"'
PAINT = {
    "box": 'fill="none" stroke="#9aa4b2" stroke-width="1"',
    "grid": 'stroke="#e6e9ef" stroke-width="1"',
    "tick": f'{_FONT} font-size="11" fill="#445"',
    "label": f'{_FONT} font-size="11" fill="#445"',
    "axis": f'{_FONT} font-size="11" fill="#445"',
    "series-a": 'fill="none" stroke="#1f6fb2" stroke-width="1.2"',
    "series-b": 'fill="none" stroke="#d0612a" stroke-width="1.2"',
    "series-c": 'fill="none" stroke="#3b8f4f" stroke-width="1.2"',
    "series-d": 'fill="none" stroke="#7b4fa6" stroke-width="1.2"',
    "key-a": 'fill="#1f6fb2"',
    "key-b": 'fill="#d0612a"',
    "key-c": 'fill="#3b8f4f"',
    "key-d": 'fill="#7b4fa6"',
    "artefact": 'fill="#c62828"',
    "gap": 'fill="#9e9e9e" fill-opacity="0.35"',
    "pacer": 'fill="#cfe5fb" fill-opacity="0.55"',
    "marker": 'stroke="#5b3f8c" stroke-width="1" stroke-dasharray="3 3"',
    "marker-label": f'{_FONT} font-size="10" fill="#5b3f8c"',
    "cue": 'stroke="#b26a00" stroke-width="2"',
    "zero": 'stroke="#777" stroke-dasharray="4 3"',
    "sync": 'fill="none" stroke="#2d6a6a" stroke-width="1.3"',
}


def _paint(cls: str) -> str:
    return f'class="{cls}" {PAINT[cls]}'


@dataclass(frozen=True, slots=True)
class Frame:
    """Data ranges mapped onto the plot area of a ``WIDTH`` x ``height`` picture."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    height: int = 180
    left: float = 64.0

    @property
    def right(self) -> float:
        return WIDTH - MARGIN_RIGHT

    @property
    def top(self) -> float:
        return MARGIN_TOP

    @property
    def bottom(self) -> float:
        return self.height - MARGIN_BOTTOM

    def x(self, values: npt.ArrayLike) -> FloatArray:
        v = np.asarray(values, dtype=np.float64)
        span = (self.x_max - self.x_min) or 1.0
        return self.left + (v - self.x_min) / span * (self.right - self.left)

    def y(self, values: npt.ArrayLike) -> FloatArray:
        v = np.asarray(values, dtype=np.float64)
        span = (self.y_max - self.y_min) or 1.0
        return self.bottom - (v - self.y_min) / span * (self.bottom - self.top)


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step + 1e-9) + 1)]


def padded_range(values: FloatArray, *, floor: float | None = None) -> tuple[float, float]:
    """The 1st-99th percentile range of the finite values, padded by 10 % (robust to a few
    wild values); (0, 1) without data."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(finite, [1, 99]))
    pad = max((hi - lo) * 0.1, 1.0)
    lo = lo - pad if floor is None else max(floor, lo - pad)
    return (lo, hi + pad)


def path_d(frame: Frame, xs: npt.ArrayLike, ys: npt.ArrayLike) -> str:
    """An SVG path through the points, broken wherever a y is NaN ("" when nothing to draw)."""
    px, py = frame.x(xs), frame.y(ys)
    parts, pen_down = [], False
    for x, y in zip(px, py, strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    return "".join(parts)


def line(x1: float, y1: float, x2: float, y2: float, cls: str) -> str:
    return f'<line {_paint(cls)} x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def rect(x: float, y: float, w: float, h: float, cls: str, *, title: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    return (
        f'<rect {_paint(cls)} x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.8):.1f}"'
        f' height="{h:.1f}">{tip}</rect>'
    )


def text(x: float, y: float, content: str, cls: str = "label", anchor: str = "middle") -> str:
    return (
        f'<text {_paint(cls)} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def path(frame: Frame, xs: npt.ArrayLike, ys: npt.ArrayLike, cls: str) -> str:
    """A line through the points (broken at NaN)."""
    return f'<path {_paint(cls)} d="{path_d(frame, xs, ys)}"/>'


def clipped(frame: Frame, name: str, elements: Iterable[str]) -> list[str]:
    """``elements`` drawn inside the plot area only (a wild value does not cross the axes);
    ``name`` makes the clip path's id unique in the page."""
    clip = f"area-{escape(name)}"
    w, h = frame.right - frame.left, frame.bottom - frame.top
    area = f'<rect x="{frame.left:.1f}" y="{frame.top:.1f}" width="{w:.1f}" height="{h:.1f}"/>'
    return [
        f'<clipPath id="{clip}">{area}</clipPath><g clip-path="url(#{clip})">',
        *elements,
        "</g>",
    ]


def dot(x: float, y: float, cls: str, title: str) -> str:
    return (
        f'<circle {_paint(cls)} cx="{x:.1f}" cy="{y:.1f}" r="2.6">'
        f"<title>{escape(title)}</title></circle>"
    )


def spans(frame: Frame, intervals: Iterable[tuple[float, float, str]], cls: str) -> list[str]:
    """Shaded vertical bands over the plot area, each with a tooltip."""
    out = []
    for start, end, title in intervals:
        x0, x1 = (float(v) for v in frame.x([max(start, frame.x_min), min(end, frame.x_max)]))
        if x1 >= x0:
            out.append(rect(x0, frame.top, x1 - x0, frame.bottom - frame.top, cls, title=title))
    return out


def axes(
    frame: Frame, *, y_label: str, x_ticks: Sequence[float], x_tick_label: str = "{:g}"
) -> list[str]:
    """Frame box, grid lines and tick labels; x tick labels formatted with ``x_tick_label``."""
    out = [rect(frame.left, frame.top, frame.right - frame.left, frame.bottom - frame.top, "box")]
    for value in nice_ticks(frame.y_min, frame.y_max, 4):
        y = float(frame.y([value])[0])
        out += [
            line(frame.left, y, frame.right, y, "grid"),
            text(frame.left - 6, y + 4, f"{value:g}", "tick", "end"),
        ]
    for value in x_ticks:
        x = float(frame.x([value])[0])
        out += [
            line(x, frame.top, x, frame.bottom, "grid"),
            text(x, frame.bottom + 15, x_tick_label.format(value), "tick"),
        ]
    mid = (frame.top + frame.bottom) / 2
    out.append(
        f'<text {_paint("axis")} x="14" y="{mid:.1f}" text-anchor="middle"'
        f' transform="rotate(-90 14 {mid:.1f})">{escape(y_label)}</text>'
    )
    return out


def picture(frame: Frame, name: str, label: str, body: Iterable[str]) -> str:
    """An ``<svg>`` element sized by its viewBox (it scales to the page width)."""
    return (
        f'<svg class="plot" data-plot="{escape(name)}" role="img" aria-label="{escape(label)}"'
        ' width="100%"'
        f' viewBox="0 0 {WIDTH} {frame.height}" preserveAspectRatio="xMidYMid meet"'
        f' xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )
