"""PNG page maps: which page holds which buffer's pages and tails, and the
high-memory claim's regions.

Drawn on the host, after the run, from what the guest saved: a ring's debugfs
`map` (ring_map) and the allocator's `summary` and `regions` (region_map).
Each picture is a line of equal units (a ring's pages in page-array order, the
claim's pages in address order) wrapped into rows.  A unit starts grey and
every span the kernel reported is painted over it, so what stays grey is
slack: bytes of an allocated page that no buffer uses, or free high memory.
Neighbouring buffers (or regions) alternate between two shades of their kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..model.himemmodel import SNAPSHOT, Region, parse_regions
from ..model.layout import PAGE_SIZE
from ..model.layoutreport import MAPS, map_path, measured
from ..model.mapcheck import Fragment, parse_map, parse_summary

BACKGROUND = (1.0, 1.0, 1.0)
UNUSED = (0.86, 0.86, 0.86)
# Pairs of a dark and a light shade, one pair per kind (matplotlib's tab20
# without its grey, which would read as unused).
SHADES = (
    ("#1f77b4", "#aec7e8"),
    ("#ff7f0e", "#ffbb78"),
    ("#2ca02c", "#98df8a"),
    ("#d62728", "#ff9896"),
    ("#9467bd", "#c5b0d5"),
    ("#8c564b", "#c49c94"),
    ("#e377c2", "#f7b6d2"),
    ("#bcbd22", "#dbdb8d"),
    ("#17becf", "#9edae5"),
)
MAX_UNITS = 8192  # beyond this a map shows its first MAX_UNITS units
DPI = 100
LEGEND_COLUMNS = 4
WHOLE_PAGE = "whole page"
TAIL = "tail"


@dataclass(frozen=True)
class Span:
    """Bytes [start, start + length) of the line, owned by one buffer or region."""

    start: int
    length: int
    kind: str  # a legend entry
    shade: int  # 0 or 1, alternating between neighbours
    label: str = ""  # written on the span when there is room


@dataclass(frozen=True)
class Grid:
    """How a line of units is wrapped: units per row and pixels per unit."""

    units: int
    unit_bytes: int
    per_row: int
    width: int  # pixels across one unit
    height: int  # pixels down one unit
    gap_x: int = 2
    gap_y: int = 2

    @property
    def rows(self) -> int:
        return math.ceil(self.units / self.per_row)

    def origin(self, unit: int) -> tuple[int, int]:
        """Pixel column and row of a unit's top left corner."""
        row, col = divmod(unit, self.per_row)
        return col * (self.width + self.gap_x), row * (self.height + self.gap_y)


@dataclass
class PageMap:
    """A picture to draw: title, spans over the grid, a caption under it."""

    title: str
    grid: Grid
    spans: list[Span]
    caption: str
    first_address: int | None = None  # rows are labelled by address, else by unit
    fixed_kinds: tuple[str, ...] = ()  # kinds whose colours do not depend on the others

    def _slots(self) -> list[str]:
        return list(dict.fromkeys([*self.fixed_kinds, *(span.kind for span in self.spans)]))

    def kinds(self) -> list[str]:
        """The legend's kinds: those present, in colour order."""
        present = {span.kind for span in self.spans}
        return [kind for kind in self._slots() if kind in present]

    def shades(self, kind: str) -> tuple[str, str]:
        return SHADES[self._slots().index(kind) % len(SHADES)]

    def pixels(self) -> np.ndarray:
        """The image, rows x columns x RGB in [0, 1]."""
        g = self.grid
        kinds = self._slots()
        palette = [BACKGROUND, UNUSED]
        for kind in kinds:
            palette += [to_rgb(shade) for shade in self.shades(kind)]
        line = np.zeros(g.rows * g.per_row * g.width, dtype=np.uint8)
        line[: g.units * g.width] = 1
        limit = g.units * g.unit_bytes
        for span in self.spans:
            if span.start >= limit:
                continue
            end = min(span.start + span.length, limit)
            x0 = span.start * g.width // g.unit_bytes
            x1 = max(x0 + 1, -(-end * g.width // g.unit_bytes))
            line[x0:x1] = 2 + 2 * kinds.index(span.kind) + span.shade
        cells = line.reshape(g.rows, g.per_row, g.width)
        cells = np.pad(cells, ((0, 0), (0, 0), (0, g.gap_x)))
        rows = cells.reshape(g.rows, 1, g.per_row * (g.width + g.gap_x))
        rows = np.repeat(rows, g.height, axis=1)
        rows = np.pad(rows, ((0, 0), (0, g.gap_y), (0, 0)))
        index = rows.reshape(g.rows * (g.height + g.gap_y), -1)
        return np.asarray(palette)[index]

    def figure(self) -> Figure:
        image = self.pixels()
        high, wide = (n / DPI for n in image.shape[:2])  # inches
        left, right, top = 1.0, 0.3, 0.6
        bottom = 0.55 + 0.25 * math.ceil((len(self.kinds()) + 1) / LEGEND_COLUMNS)
        fig_w, fig_h = left + wide + right, top + high + bottom
        fig = Figure(figsize=(fig_w, fig_h), dpi=DPI)
        ax = fig.add_axes((left / fig_w, bottom / fig_h, wide / fig_w, high / fig_h))
        ax.imshow(image, interpolation="nearest", aspect="equal")
        self._decorate(ax)
        fig.suptitle(self.title, fontsize=11, y=1 - 0.15 / fig_h, va="top")
        handles = [Patch(facecolor=self.shades(kind)[0], label=kind) for kind in self.kinds()]
        handles.append(Patch(facecolor=UNUSED, edgecolor="0.6", label="unused"))
        fig.legend(
            handles=handles,
            loc="lower center",
            ncol=min(len(handles), LEGEND_COLUMNS),
            bbox_to_anchor=(0.5, 0.3 / fig_h),
            fontsize=9,
            frameon=False,
        )
        fig.text(0.5, 0.08 / fig_h, self.caption, ha="center", va="bottom", fontsize=8)
        return fig

    def _decorate(self, ax: Axes) -> None:
        """Row labels on the left; each span's label on it when it fits."""
        g = self.grid
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_xticks([])
        every = 1 if g.height >= 14 else 8
        rows = range(0, g.rows, every)
        ax.set_yticks([r * (g.height + g.gap_y) + g.height / 2 - 0.5 for r in rows])
        ax.set_yticklabels([self.row_label(r) for r in rows], fontsize=7)
        ax.tick_params(axis="y", length=0)
        if g.height < 14:
            return
        for span in self.spans:
            unit, offset = divmod(span.start, g.unit_bytes)
            px = span.length * g.width / g.unit_bytes
            if not span.label or unit >= g.units or px < 8 * len(span.label):
                continue
            x, y = g.origin(unit)
            centre = x + (offset + span.length / 2) * g.width / g.unit_bytes - 0.5
            ax.text(
                centre, y + g.height / 2 - 0.5, span.label, ha="center", va="center", fontsize=7
            )

    def row_label(self, row: int) -> str:
        unit = row * self.grid.per_row
        if self.first_address is None:
            return f"page {unit}"
        return f"{self.first_address + unit * self.grid.unit_bytes:#x}"

    def save(self, path: Path) -> Path:
        self.figure().savefig(path)
        return path


def ring_map(
    frags: list[Fragment], title: str, total_pages: int | None = None, page_size: int = PAGE_SIZE
) -> PageMap:
    """A ring's pages in page-array order; each buffer's whole pages and tail.
    total_pages, the pages the kernel says it holds, shows any it holds unused."""
    pages = max(total_pages or 0, 1 + max((f.page for f in frags), default=-1))
    if pages <= 64:
        grid = Grid(pages, page_size, per_row=4, width=256, height=22, gap_x=6, gap_y=4)
    else:
        grid = Grid(min(pages, MAX_UNITS), page_size, per_row=32, width=32, height=8)
    spans = [
        Span(
            f.page * page_size + f.offset,
            f.length,
            WHOLE_PAGE if f.length == page_size else TAIL,
            f.buffer % 2,
            f"b{f.buffer}",
        )
        for f in frags
    ]
    used = sum(f.length for f in frags)
    shown = "" if grid.units == pages else f" (the first {grid.units} shown)"
    caption = (
        f"{pages} pages of {page_size} bytes{shown}, page-array order, left to right; "
        f"{used} bytes used, {pages * page_size - used} unused"
    )
    return PageMap(title, grid, spans, caption, fixed_kinds=(WHOLE_PAGE, TAIL))


def region_map(summary: dict[str, int | str], regions: list[Region]) -> PageMap:
    """The high-memory claim's pages in address order, coloured by owner."""
    base, size = int(summary["base"]), int(summary["size"])
    pages = size // PAGE_SIZE
    grid = Grid(
        min(pages, MAX_UNITS * 4), PAGE_SIZE, per_row=256, width=4, height=8, gap_x=0, gap_y=2
    )
    shown = "" if grid.units == pages else f" (the first {grid.units} shown)"
    owners: dict[str, list[Region]] = {}
    for region in sorted(regions, key=lambda r: r.start):
        owners.setdefault(region.owner, []).append(region)
    spans = [
        Span(
            r.start - base,
            r.size,
            f"{owner}: {_count(len(rs), 'region')}, {_kib(sum(x.size for x in rs))}",
            i % 2,
        )
        for owner, rs in owners.items()
        for i, r in enumerate(rs)
    ]
    caption = (
        f"{base:#x}-{base + size - 1:#x}: {pages} pages{shown}, 1 MiB a row; "
        f"{_kib(int(summary['free']))} free, "
        f"largest free extent {_kib(int(summary['largest_free']))}"
    )
    title = f"High memory claimed by allocator.ko: {_count(len(regions), 'region')}"
    return PageMap(title, grid, spans, caption, first_address=base)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _kib(nbytes: int) -> str:
    return f"{nbytes >> 10} KiB" if nbytes < 4 << 20 else f"{nbytes / (1 << 20):.1f} MiB"


def render(run_dir: Path) -> list[Path]:
    """Draw every map the guest saved in run_dir; the PNG files written."""
    written = []
    for ring in measured(run_dir):
        if "error" in ring:
            continue
        s = ring["summary"]
        saved = map_path(run_dir, ring["iface"], s["buffers"], s["bufsize"])
        if not saved.exists():
            continue
        title = (
            f"{ring['iface']}: {s['buffers']} buffers of {s['bufsize']} bytes, {s['tails']} tails"
        )
        page_map = ring_map(parse_map(saved.read_text()), title, s["total_pages"])
        written.append(page_map.save(saved.with_suffix(".png")))
    himem = run_dir / SNAPSHOT
    if (himem / "summary").exists():
        summary = parse_summary((himem / "summary").read_text())
        regions = parse_regions((himem / "regions").read_text())
        (run_dir / MAPS).mkdir(exist_ok=True)
        written.append(region_map(summary, regions).save(run_dir / MAPS / "himem.png"))
    return written
