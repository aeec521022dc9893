"""The layout report: rings measured in the kernel beside the model's figures.

measure() runs in the guest with the modules loaded and saves each ring's
debugfs summary and map; render() runs on the host and puts, for each figure,
the kernel's value, the model's prediction (8-byte pointers, SLUB) and the
seed's own arithmetic (4-byte pointers, powers of two) side by side.  The
saved maps are drawn by pagemap.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import layout

LAYOUTS = "layouts.json"
MAPS = "maps"  # under the run directory: each ring's saved map, and the pictures
SEED_RINGS = (("asitx0", 1000, 9588), ("asitx0", 10000, 1316))
# Measured and drawn beside the seed's: the same size with a page per tail,
# and two rings small enough to read buffer by buffer, packed and own-page.
REPORT_RINGS = (
    *SEED_RINGS,
    ("sditx0", 1000, 9588),
    ("asirx0", 12, 5000),
    ("sdirx0", 12, 5000),
)
FIGURES = (
    "tails_per_page",
    "total_pages",
    "pointers",
    "page_array_bytes",
    "pointer_array_bytes",
    "bytes_required",
    "bytes_allocated",
)


def map_path(run_dir: Path, iface: str, buffers: int, bufsize: int) -> Path:
    """Where measure() saves a ring's map."""
    return run_dir / MAPS / f"{iface}-{buffers}x{bufsize}.map"


def measured(run_dir: Path) -> list[dict[str, Any]]:
    """What measure() saved: per ring its iface and summary, or the error."""
    path = run_dir / LAYOUTS
    return json.loads(path.read_text()) if path.exists() else []


def render(run_dir: Path) -> str:
    """The comparison table, or "" when nothing was measured."""
    out = []
    for ring in measured(run_dir):
        if "error" in ring:
            out.append(f"{ring['iface']} {ring['buffers']} x {ring['bufsize']}: {ring['error']}")
            continue
        s = ring["summary"]
        tails: layout.Tails = s["tails"]
        model = layout.layout(s["buffers"], s["bufsize"], tails).as_dict()
        seed = layout.layout(s["buffers"], s["bufsize"], tails, pointer_size=4, kmalloc="pow2")
        seed_figures = seed.as_dict()
        out.append(
            f"{ring['iface']}: {s['buffers']} buffers of {s['bufsize']} bytes, {tails} tails "
            f"(page array {s['page_array_kind']}, pointer array {s['pointer_array_kind']})"
        )
        out.append(f"  {'figure':<20} {'kernel':>12} {'model':>12} {'':2} {'seed (32-bit)':>14}")
        for key in FIGURES:
            mark = "ok" if s[key] == model[key] else "!!"
            out.append(
                f"  {key:<20} {s[key]:>12} {model[key]:>12} {mark:2} {seed_figures[key]:>14}"
            )
        out.append(
            f"  {'descriptors':<20} {s['descriptors']:>12} x {s['desc_stride']} bytes "
            f"({s['desc_format']}) = {s['desc_bytes']}, kept apart from bytes_allocated"
        )
        if "zone" in s:
            out.append(
                f"  {'pages by zone':<20} dma {s['pages_dma']}, dma32 {s['pages_dma32']}, "
                f"normal {s['pages_normal']} (limit {s['dma_limit']:#x}"
                f"{', behind an IOMMU' if s['iommu'] else ''}; {s['bounced_pages']} bounced)"
            )
    return "\n".join(out)
