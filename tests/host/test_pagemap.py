"""Page maps drawn from maps and regions files a guest saved (tests/host/data).

The files come from real runs: `asirx0-12x5000.map` (packed tails) and
`sdirx0-12x5000.map` (a page per tail) from a plain run's layout report, and
`himem/` from the himem lane's LIST test.  The pictures are checked pixel by
pixel in the PNG that was written, not in matplotlib's objects only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from matplotlib.transforms import Bbox

from pyharness.host import pagemap
from pyharness.model import layout, layoutreport, mapcheck
from pyharness.model.himemmodel import SNAPSHOT, parse_regions
from pyharness.model.mapcheck import parse_summary

DATA = Path(__file__).parent / "data"
PAGE = layout.PAGE_SIZE
RINGS: dict[layout.Tails, str] = {"packed": "asirx0-12x5000", "own-page": "sdirx0-12x5000"}


def _colour_mask(image: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    close: np.ndarray = np.all(np.abs(image[..., :3] - np.asarray(colour)) < 1.5 / 255, axis=-1)
    return close


def _crop(image: np.ndarray, box: Bbox) -> np.ndarray:
    """The pixels of a display box (origin bottom left) in a PNG (origin top left)."""
    height = image.shape[0]
    return image[int(height - box.y1) : int(height - box.y0) + 1, int(box.x0) : int(box.x1) + 1]


def _drawn(page_map: pagemap.PageMap, png: Path) -> tuple[np.ndarray, np.ndarray]:
    """The map's pixels and the legend's, cut out of the PNG that was written."""
    fig = page_map.figure()
    fig.savefig(png)
    image = imread(png)
    return _crop(image, fig.axes[0].get_window_extent()), _crop(
        image, fig.legends[0].get_window_extent()
    )


def _share(page_map: pagemap.PageMap, colours: tuple[tuple[float, float, float], ...]) -> float:
    """The share of the cells' pixels in these colours."""
    g = page_map.grid
    pixels = page_map.pixels()
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    for colour in colours:
        mask |= _colour_mask(pixels, colour)
    return float(mask.sum() / (g.units * g.width * g.height))


def _pair(page_map: pagemap.PageMap, kind: str) -> tuple[tuple[float, float, float], ...]:
    return tuple(to_rgb(shade) for shade in page_map.shades(kind))


@pytest.mark.parametrize("tails", RINGS)
def test_ring_map_from_a_saved_map(tmp_path: Path, tails: layout.Tails) -> None:
    frags = mapcheck.parse_map((DATA / f"{RINGS[tails]}.map").read_text())
    model = layout.layout(12, 5000, tails)
    assert not mapcheck.check(model, frags, model.total_pages)  # the data is a real, good map
    page_map = pagemap.ring_map(frags, f"12 x 5000, {tails}")
    image, legend = _drawn(page_map, tmp_path / "ring.png")

    assert image[..., :3].std() > 0.1, "blank picture"
    whole, tail = (_pair(page_map, kind)[0] for kind in (pagemap.WHOLE_PAGE, pagemap.TAIL))
    for colour in (whole, tail, pagemap.UNUSED):
        assert _colour_mask(image, colour).sum() > 100, colour
        assert _colour_mask(legend, colour).any(), f"legend lacks {colour}"
    texts = [t.get_text() for t in page_map.figure().legends[0].get_texts()]
    assert texts == [pagemap.WHOLE_PAGE, pagemap.TAIL, "unused"]


@pytest.mark.parametrize("tails", RINGS)
def test_each_colour_covers_its_share_of_bytes(tails: layout.Tails) -> None:
    """In the cells, whole pages, tails and grey take the shares of the bytes
    that whole pages, tails and slack take in the ring."""
    frags = mapcheck.parse_map((DATA / f"{RINGS[tails]}.map").read_text())
    page_map = pagemap.ring_map(frags, "")
    model = layout.layout(12, 5000, tails)
    total = model.total_pages * PAGE
    whole = model.buffers * model.full_per_buf * PAGE / total
    tail = model.buffers * model.tail_size / total
    assert _share(page_map, _pair(page_map, pagemap.WHOLE_PAGE)) == pytest.approx(whole, abs=0.01)
    assert _share(page_map, _pair(page_map, pagemap.TAIL)) == pytest.approx(tail, abs=0.01)
    assert _share(page_map, (pagemap.UNUSED,)) == pytest.approx(1 - whole - tail, abs=0.01)


def test_pages_held_but_unused_show_grey() -> None:
    """A ring that holds a page no fragment is on (a leak) shows it whole in grey."""
    frags = mapcheck.parse_map((DATA / f"{RINGS['packed']}.map").read_text())
    model = layout.layout(12, 5000, "packed")
    page_map = pagemap.ring_map(frags, "", total_pages=model.total_pages + 1)
    g = page_map.grid
    x, y = g.origin(model.total_pages)
    cell = page_map.pixels()[y : y + g.height, x : x + g.width]
    assert _colour_mask(cell, pagemap.UNUSED).all()
    assert "16 pages" in page_map.caption


def test_region_map_from_a_saved_snapshot(tmp_path: Path) -> None:
    summary = parse_summary((DATA / SNAPSHOT / "summary").read_text())
    regions = parse_regions((DATA / SNAPSHOT / "regions").read_text())
    page_map = pagemap.region_map(summary, regions)
    image, legend = _drawn(page_map, tmp_path / "himem.png")

    assert image[..., :3].std() > 0.1, "blank picture"
    texts = [t.get_text() for t in page_map.figure().legends[0].get_texts()]
    assert [t.split(":")[0] for t in texts] == ["himemtest", "himemclient", "unused"]
    for kind in page_map.kinds():
        assert _colour_mask(image, _pair(page_map, kind)[0]).any(), kind
        assert _colour_mask(legend, _pair(page_map, kind)[0]).any(), kind
    free = int(summary["free"]) / int(summary["size"])
    assert _share(page_map, (pagemap.UNUSED,)) == pytest.approx(free, abs=0.01)
    for owner in ("himemtest", "himemclient"):
        owned = sum(r.size for r in regions if r.owner == owner) / int(summary["size"])
        kind = next(k for k in page_map.kinds() if k.startswith(owner))
        assert _share(page_map, _pair(page_map, kind)) == pytest.approx(owned, abs=0.01)


def test_render_draws_every_saved_map(tmp_path: Path) -> None:
    rings: list[dict[str, object]] = []
    (tmp_path / layoutreport.MAPS).mkdir()
    for tails, name in RINGS.items():
        summary: dict[str, object] = {**layout.layout(12, 5000, tails).as_dict(), "tails": tails}
        rings.append({"iface": name.split("-")[0], "summary": summary})
        shutil.copy(DATA / f"{name}.map", tmp_path / layoutreport.MAPS)
    rings.append({"iface": "asitx0", "buffers": 1, "bufsize": 1, "error": "ENOMEM"})
    (tmp_path / layoutreport.LAYOUTS).write_text(json.dumps(rings))
    shutil.copytree(DATA / SNAPSHOT, tmp_path / SNAPSHOT)

    written = pagemap.render(tmp_path)
    names = sorted(path.name for path in written)
    assert names == ["asirx0-12x5000.png", "himem.png", "sdirx0-12x5000.png"]
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG")
