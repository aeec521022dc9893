"""The layout report renders kernel figures beside the model's and the seed's."""

from __future__ import annotations

import json
from pathlib import Path

from pyharness.model import layout, layoutreport


def kernel_summary(buffers: int, bufsize: int, **changes: int) -> dict[str, object]:
    figures: dict[str, object] = dict(layout.layout(buffers, bufsize).as_dict())
    figures.update(
        page_array_kind="kmalloc",
        pointer_array_kind="kmalloc",
        descriptors=figures["pointers"],
        desc_stride=32,
        desc_format="lsdma",
        desc_bytes=32 * int(str(figures["pointers"])),
        **changes,
    )
    return figures


def test_matching_and_mismatching_figures(tmp_path: Path) -> None:
    rings = [
        {"iface": "asitx0", "summary": kernel_summary(1000, 9588)},
        {"iface": "asitx0", "summary": kernel_summary(10000, 1316, total_pages=3335)},
        {"iface": "asitx0", "buffers": 2, "bufsize": 1, "error": "[Errno 12] ENOMEM"},
    ]
    (tmp_path / layoutreport.LAYOUTS).write_text(json.dumps(rings))
    text = layoutreport.render(tmp_path)
    lines = text.splitlines()
    first = next(line for line in lines if "bytes_allocated" in line)
    model = str(layout.layout(1000, 9588).bytes_allocated)
    assert first.split() == ["bytes_allocated", model, model, "ok", "10272768"]
    bad = [line for line in lines if "total_pages" in line][1]
    assert bad.split() == ["total_pages", "3335", "3334", "!!", "3334"]
    assert "ENOMEM" in lines[-1]


def test_nothing_measured(tmp_path: Path) -> None:
    assert layoutreport.render(tmp_path) == ""
