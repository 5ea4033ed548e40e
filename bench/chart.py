"""A bar chart (SVG, no dependencies) of a benchmark's results: msg/s per scenario, side by side
with the JetStream peer. `python bench/chart.py results/exchange.json` writes exchange.svg."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import orjson

PHASES = ("ingest", "drain", "e2e")
COLOURS = {"ingest": "#01689b", "drain": "#e17000", "e2e": "#39870c"}
ROW_H, BAR_H, LEFT, WIDTH = 46, 12, 300, 1040


def render(doc: dict[str, Any]) -> str:
    rows: dict[str, dict[str, float]] = {}
    for r in doc["results"]:
        phase = r["phase"].rstrip("*")
        if phase not in PHASES:
            continue
        label = f"{r['scenario']} · {r['store']} · batch {r['batch']}"
        rows.setdefault(label, {})[phase] = float(r["rate"])
    top = max((v for row in rows.values() for v in row.values()), default=1.0)
    scale_max = 10 ** math.ceil(math.log10(max(top, 10)))
    plot_w = WIDTH - LEFT - 30

    def x(value: float) -> float:  # log scale: rates span four decades
        return LEFT + plot_w * math.log10(max(value, 1)) / math.log10(scale_max)

    height = 90 + ROW_H * len(rows)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(doc.get("benchmark", ""))}'
        " benchmark: messages per second (log scale)</text>",
    ]
    machine = doc.get("machine", {})
    out.append(
        f'<text x="10" y="40" fill="#555">{machine.get("cores", "?")} cores, '
        f"{machine.get('ram_gb', '?')} GB, Python {escape(str(machine.get('python', '?')))}, "
        f"{escape(str(machine.get('date', '')))}</text>"
    )
    for i, phase in enumerate(PHASES):
        out.append(
            f'<rect x="{LEFT + i * 90}" y="50" width="12" height="12" fill="{COLOURS[phase]}"/>'
            f'<text x="{LEFT + i * 90 + 16}" y="60">{phase}</text>'
        )
    tick = 1.0
    while tick <= scale_max:
        tx = x(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="70" x2="{tx:.1f}" y2="{height - 10}" stroke="#ddd"/>'
            f'<text x="{tx:.1f}" y="{height - 0}" text-anchor="middle" fill="#555">'
            f"{int(tick):,}</text>"
        )
        tick *= 10
    for n, (label, phases) in enumerate(rows.items()):
        y = 76 + n * ROW_H
        out.append(f'<text x="{LEFT - 8}" y="{y + 20}" text-anchor="end">{escape(label)}</text>')
        for k, phase in enumerate(PHASES):
            if phase in phases:
                value = phases[phase]
                by = y + k * BAR_H
                out.append(
                    f'<rect x="{LEFT}" y="{by}" width="{x(value) - LEFT:.1f}" '
                    f'height="{BAR_H - 2}" fill="{COLOURS[phase]}"/>'
                    f'<text x="{x(value) + 4:.1f}" y="{by + 9}" font-size="10">{value:,.0f}</text>'
                )
    out.append("</svg>")
    return "\n".join(out)


def bars(title: str, values: list[tuple[str, float, str]], notes: Sequence[str] = ()) -> str:
    """A plain bar chart (SVG): one labelled bar per (label, value, colour), linear scale,
    then lines of text below."""
    top = max((v for _, v, _ in values), default=1.0) or 1.0
    rows = [f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>']
    for i, (label, value, colour) in enumerate(values):
        y = 40 + i * 30
        w = 600 * value / top
        rows.append(
            f'<text x="10" y="{y + 14}">{escape(label)}</text>'
            f'<rect x="300" y="{y}" width="{w:.1f}" height="18" fill="{colour}"/>'
            f'<text x="{305 + w:.1f}" y="{y + 14}">{value:,.0f}</text>'
        )
    y = 40 + len(values) * 30
    for note in notes:
        y += 20
        rows.append(f'<text x="10" y="{y}">{escape(note)}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="1040" height="{y + 20}" '
        'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>'
        + "".join(rows)
        + "</svg>"
    )


def write_chart(json_path: Path) -> Path:
    svg = json_path.with_suffix(".svg")
    svg.write_text(render(orjson.loads(json_path.read_bytes())), encoding="utf-8")
    return svg


if __name__ == "__main__":
    print(f"wrote {write_chart(Path(sys.argv[1]))}")
