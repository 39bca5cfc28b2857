"""Draws the ratio column of the benchmark rows as a horizontal bar chart (SVG, no dependencies).

Usage: plot.py ROWS_FILE OUT.svg
"""
import re
import sys
from html import escape

rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 4:
        continue
    match = re.search(r"([0-9.]+)x", cells[3])
    if match:
        rows.append((cells[0] + (" — " + cells[2] if cells[2] else ""), float(match.group(1))))

width, bar_height, left = 900, 26, 520
height = 40 + bar_height * len(rows)
top = max([r for _, r in rows] + [1.0])
parts = [
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
    f'<text x="10" y="20" font-size="14">multiproc vs Python multiprocessing: times better (log scale)</text>',
]
import math
scale = (width - left - 60) / math.log10(max(top, 10) * 1.2)
for i, (label, ratio) in enumerate(rows):
    y = 32 + i * bar_height
    length = max(2, scale * math.log10(max(ratio, 1.0001)) if ratio >= 1 else 2)
    colour = "#3a7" if ratio >= 1 else "#c44"
    parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(label[:80])}</text>')
    parts.append(f'<rect x="{left}" y="{y + 4}" width="{length:.1f}" height="{bar_height - 8}" fill="{colour}"/>')
    parts.append(f'<text x="{left + length + 6:.1f}" y="{y + 16}">{ratio:g}x</text>')
parts.append("</svg>")
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(parts))
