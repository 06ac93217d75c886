"""Small inline SVG charts for the HTML report: no scripts, no fonts or files to fetch, so the
page renders anywhere, offline. Every chart is a function from numbers to one `<svg>` string."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 640
ROW = 22
BAR = "#4c78a8"
GOOD = "#54a24b"
BAD = "#e45756"
AXIS = "#888"


def _svg(height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, value: str, anchor: str = "start", fill: str = "#222") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(value)}</text>'
    )


def hbars(
    title: str,
    items: Sequence[tuple[str, float, str]],
    maximum: float,
    color: str = BAR,
) -> str:
    """One horizontal bar per (label, value, shown value), scaled to `maximum`."""
    label_w, left = 230, 240
    span = WIDTH - left - 60
    body = [] if items else [_text(left, 24, "none")]
    for i, (label, value, shown) in enumerate(items):
        y = 10 + i * ROW
        length = 0 if maximum <= 0 else span * max(0.0, value) / maximum
        body.append(_text(label_w, y + 14, label[:34], "end"))
        body.append(
            f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="{ROW - 8}" fill="{color}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
        )
        body.append(_text(left + length + 6, y + 14, shown))
    return _svg(20 + ROW * max(1, len(items)), body, title)


def scatter(
    title: str, points: Sequence[tuple[float, float, str]], x_label: str, y_label: str
) -> str:
    """Points (x, y in 0..1, label); x is scaled to the largest x."""
    height, left, bottom, top = 260, 50, 40, 15
    plot_w, plot_h = WIDTH - left - 20, height - top - bottom
    x_max = max((x for x, _, _ in points), default=0.0) or 1.0
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{AXIS}"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{AXIS}"/>',
        _text(left + plot_w / 2, height - 8, x_label, "middle"),
        _text(left - 8, top + 4, "1", "end"),
        _text(left - 8, top + plot_h, "0", "end"),
        _text(left + plot_w, top + plot_h + 16, f"{x_max:.3g}", "end"),
        _text(left, top + plot_h + 16, "0", "middle"),
        f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
        f'text-anchor="middle">{escape(y_label)}</text>',
    ]
    for x, y, label in points:
        cx, cy = left + plot_w * x / x_max, top + plot_h * (1 - y)
        color = GOOD if y >= 0.5 else BAD
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{color}" fill-opacity="0.7">'
            f"<title>{escape(label)}: x={x:.4g}, y={y:.2f}</title></circle>"
        )
    return _svg(height, body, title)


def histogram(title: str, values: Sequence[int], x_label: str) -> str:
    """Counts of integer values in up to 12 equal-width bins."""
    height, left, bottom, top = 220, 40, 40, 15
    plot_w, plot_h = WIDTH - left - 20, height - top - bottom
    if not values:
        return _svg(height, [_text(WIDTH / 2, height / 2, "no trials", "middle")], title)
    low, high = min(values), max(values)
    width = max(1, -(-(high - low + 1) // 12))
    bins = [0] * (-(-(high - low + 1) // width))
    for value in values:
        bins[(value - low) // width] += 1
    tallest = max(bins)
    bar_w = plot_w / len(bins)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{AXIS}"/>',
        _text(left + plot_w / 2, height - 6, x_label, "middle"),
    ]
    for i, count in enumerate(bins):
        h = plot_h * count / tallest
        x = left + i * bar_w
        start = low + i * width
        label = str(start) if width == 1 else f"{start}-{start + width - 1}"
        body.append(
            f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 4:.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{label}: {count}</title></rect>'
        )
        body.append(_text(x + bar_w / 2, top + plot_h + 14, label, "middle"))
        if count:
            body.append(_text(x + bar_w / 2, top + plot_h - h - 4, str(count), "middle"))
    return _svg(height, body, title)
