"""`invoke bench`: what is measured, and how the figures become ratios.

The cases are tables here (the guest runs them, kmod/bench/ times them);
every figure keeps its repetitions, and the report gives each as its median
and spread beside the ratio to its baseline, all from one boot (the bounce
case from a second boot of the same kernel with swiotlb=force).  Nothing
here decides a test: a missed target is reported, with the figure.

Units: ns for times, bytes for sizes, MiB/s for throughput.
"""

from __future__ import annotations

import errno
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .layout import Tails

RESULTS = "bench.jsonl"  # what the guest writes into its run directory, one case a line
PAGE = 4096


@dataclass(frozen=True)
class RingCase:
    """A ring geometry: buffers of bufsize bytes, tails packed or own-page."""

    buffers: int
    bufsize: int
    tails: Tails

    @property
    def label(self) -> str:
        return f"{self.buffers}x{self.bufsize} {self.tails}"


RING_METHODS = ("ours", "seed", "coherent", "pages", "floor")
# The seed's two geometries and two others with a tail, each packed (DVB
# ASI) and own-page (SDI), and two up to a 256 MiB ring (no tail: packed and
# own-page are the same ring).
RING_CASES = (
    RingCase(1000, 9588, "packed"),
    RingCase(1000, 9588, "own-page"),
    RingCase(10000, 1316, "packed"),
    RingCase(10000, 1316, "own-page"),
    RingCase(2048, 2048, "packed"),
    RingCase(2048, 2048, "own-page"),
    RingCase(20000, 188, "packed"),
    RingCase(20000, 188, "own-page"),
    RingCase(1024, 65536, "packed"),
    RingCase(4096, 65536, "packed"),
)
RING_CASES_FULL = (
    *RING_CASES,
    RingCase(5000, 9588, "own-page"),
    RingCase(100000, 188, "packed"),
    RingCase(256, 1 << 20, "packed"),
)
FRAG_METHODS = ("ours", "seed", "coherent", "pages")
FRAG_BUFSIZE = 9588  # the seed's DVB ASI buffer
DESC_COUNTS = (1000, 10000, 100000)
HIMEM_KINDS = ("allocator", "genpool", "list")
HIMEM_LIVE = (10, 1000, 10000, 100000)
HIMEM_PAIRS = 50000  # 0.1-0.6 s a repetition: TCG's scheduling noise averages out


def himem_pairs(kind: str, live: int) -> int:
    """Pairs timed per repetition: the original's list walks half its regions
    per free (about 1 ms a pair at 100 000 under TCG), so it gets fewer."""
    return HIMEM_PAIRS // 50 if kind == "list" and live >= 10000 else HIMEM_PAIRS


BOUNCE_BYTES = 64 << 20  # moved through the loopback per repetition: 0.3-1 s
MEMCPY_SECONDS = 1.0  # the memcpy baseline repeats its copy this long


def turns(items: tuple[str, ...], rep: int) -> tuple[str, ...]:
    """The order of repetition rep: items rotated by rep, so that each
    method (or kind) starts a round in turn."""
    k = rep % len(items)
    return items[k:] + items[:k]


@dataclass(frozen=True)
class Options:
    """How much to run: the default fits 10 minutes under TCG; --full more."""

    reps: int = 3
    full: bool = False

    @property
    def ring_cases(self) -> tuple[RingCase, ...]:
        return RING_CASES_FULL if self.full else RING_CASES

    @classmethod
    def from_args(cls, args: Sequence[str]) -> Options:
        full = "--full" in args
        return cls(reps=10 if full else 3, full=full)

    def args(self) -> tuple[str, ...]:
        return ("--full",) if self.full else ()


def parse_lines(text: str) -> list[dict[str, int]]:
    """kmod/bench's result: one "key=value ..." line per repetition."""
    rows = []
    for line in text.splitlines():
        if line.strip():
            rows.append({k: int(v) for k, v in (word.split("=", 1) for word in line.split())})
    return rows


@dataclass
class Figure:
    """One measured quantity of one case: its repetitions, median and spread
    (max - min, in the same unit)."""

    unit: str
    reps: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.reps) if self.reps else float("nan")

    @property
    def spread(self) -> float:
        return max(self.reps) - min(self.reps) if self.reps else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "reps": self.reps, "median": self.median, "spread": self.spread}


@dataclass
class Case:
    """A case as the guest ran it: group, name, method, parameters, figures,
    and the errors of repetitions that could not be built."""

    group: str
    name: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    errors: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["figures"] = {k: f.as_dict() for k, f in self.figures.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        figures = {k: Figure(f["unit"], list(f["reps"])) for k, f in data["figures"].items()}
        return cls(
            data["group"], data["name"], data["method"], data["params"], figures, data["errors"]
        )

    def median(self, figure: str) -> float:
        return self.figures[figure].median if figure in self.figures else float("nan")


def case_from_rows(
    group: str, name: str, method: str, params: dict[str, Any], rows: list[dict[str, int]],
    *, units: dict[str, str],
) -> Case:  # fmt: skip
    """Collect kmod/bench's rows: each key of units becomes a figure."""
    case = Case(group, name, method, params)
    for row in rows:
        if "error" in row:
            case.errors.append(row["error"])
            continue
        for key, unit in units.items():
            if key in row:
                case.figures.setdefault(key, Figure(unit, [])).reps.append(float(row[key]))
    return case


def load_cases(paths: Iterable[Path]) -> list[Case]:
    cases = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                cases.append(Case.from_json(json.loads(line)))
    return cases


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


@dataclass(frozen=True)
class Row:
    """A line of the report: what, the figure, and its ratio to a baseline."""

    group: str
    what: str
    figure: str
    value: float
    unit: str
    ratio: float | None = None
    baseline: str = ""
    # max - min of the repetitions over their median; None: one measurement
    spread: float | None = None


def spread_of(case: Case | None, figure: str) -> float | None:
    """The repetitions' max - min over their median (0.1: 10% of the value)."""
    if case is None or figure not in case.figures or len(case.figures[figure].reps) < 2:
        return None
    return ratio(case.figures[figure].spread, case.median(figure))


def failed_note(case: Case) -> str:
    """ "; k of n repetitions failed: ENOMEM" when some (not all) failed."""
    if not case.errors:
        return ""
    done = max((len(f.reps) for f in case.figures.values()), default=0)
    codes = ", ".join(sorted({errno.errorcode.get(-e, str(e)) for e in case.errors}))
    return f"; {len(case.errors)} of {len(case.errors) + done} repetitions failed: {codes}"


def find(cases: list[Case], group: str, name: str, method: str) -> Case | None:
    for case in cases:
        if (case.group, case.name, case.method) == (group, name, method):
            return case
    return None


def ring_rows(cases: list[Case]) -> list[Row]:
    """Setup per ring and per page for each method; ours against the seed's
    literal method (how many times faster) and against the zeroing floor
    (how many times the floor)."""
    rows = []
    names = list(dict.fromkeys(c.name for c in cases if c.group == "ring"))
    for name in names:
        ours = find(cases, "ring", name, "ours")
        floor = find(cases, "ring", name, "floor")
        for method in RING_METHODS:
            case = find(cases, "ring", name, method)
            if case is None:
                continue
            if case.errors and "setup_ns" not in case.figures:
                codes = ", ".join(sorted({errno.errorcode.get(-e, str(e)) for e in case.errors}))
                rows.append(
                    Row("ring", f"{name} {method}", "setup", float("nan"), "failed",
                        baseline=f"every repetition failed: {codes}")
                )  # fmt: skip
                continue
            setup = case.median("setup_ns")
            pages = case.params.get("pages") or 1
            floor_setup = floor.median("setup_ns") if floor else float("nan")
            note = failed_note(case)
            rows.append(
                Row("ring", f"{name} {method}", f"setup per ring ({pages} pages)", setup, "ns",
                    ratio(setup, floor_setup), "x the zeroing floor" + note,
                    spread_of(case, "setup_ns"))
            )  # fmt: skip
            rows.append(
                Row("ring", f"{name} {method}", "setup per page", setup / pages, "ns",
                    ratio(setup, floor_setup), "x the zeroing floor",
                    spread_of(case, "setup_ns"))
            )  # fmt: skip
            if method == "floor":
                continue  # the floor has nothing to tear down
            teardown = case.median("teardown_ns")
            seed = find(cases, "ring", name, "seed")
            seed_teardown = seed.median("teardown_ns") if seed else float("nan")
            rows.append(
                Row("ring", f"{name} {method}", "teardown per page", teardown / pages, "ns",
                    ratio(teardown, seed_teardown), "x the seed's teardown",
                    spread_of(case, "teardown_ns"))
            )  # fmt: skip
        if ours and "setup_ns" in ours.figures:
            seed = find(cases, "ring", name, "seed")
            if seed and "setup_ns" in seed.figures:
                rows.append(
                    Row("ring", f"{name}", "seed / ours (setup)",
                        ratio(seed.median("setup_ns"), ours.median("setup_ns")), "x",
                        baseline="target >= 2")
                )  # fmt: skip
            if floor and "setup_ns" in floor.figures:
                rows.append(
                    Row("ring", f"{name}", "ours / floor (setup)",
                        ratio(ours.median("setup_ns"), floor.median("setup_ns")), "x",
                        baseline="target <= 1.5")
                )  # fmt: skip
    return rows


def frag_rows(cases: list[Case]) -> list[Row]:
    """The largest ring each method built under order-0 fragmentation, as a
    fraction of the memory free when it started, and of what the kernel
    counted as available (free memory less its reserves: watermarks and
    lowmem_reserve, which no allocation may take)."""
    rows = []
    for case in cases:
        if case.group != "fragmentation":
            continue
        free = case.params["free_pages"] * PAGE
        available = case.params.get("available_pages", 0) * PAGE
        largest = case.median("largest_bytes")
        rows.append(
            Row("fragmentation", f"{case.name} {case.method}", "largest", largest, "bytes",
                ratio(largest, free), "of free memory (ours: target >= 0.95)" + failed_note(case))
        )  # fmt: skip
        rows.append(
            Row("fragmentation", f"{case.name} {case.method}", "largest", largest, "bytes",
                ratio(largest, available), "of available memory (MemAvailable)")
        )  # fmt: skip
    return rows


def desc_rows(cases: list[Case]) -> list[Row]:
    rows = []
    for case in cases:
        if case.group != "descriptors":
            continue
        count = case.params["count"]
        ours = (case.median("ours_alloc_ns") + case.median("ours_free_ns")) / count
        pool = (case.median("pool_alloc_ns") + case.median("pool_free_ns")) / count
        rows.append(
            Row("descriptors", f"{count} descriptors", "alloc+free per descriptor", ours, "ns",
                ratio(ours, pool), "x one dma_pool" + failed_note(case),
                spread_of(case, "ours_alloc_ns"))
        )  # fmt: skip
    return rows


def himem_rows(cases: list[Case]) -> list[Row]:
    """ns per allocate+free pair at each number of live regions; the
    allocator against its own cost at the fewest regions, gen_pool and the
    original's list."""
    rows = []
    per_pair: dict[tuple[str, int], float] = {}
    spreads: dict[tuple[str, int], float | None] = {}
    notes: dict[tuple[str, int], str] = {}
    for case in cases:
        if case.group == "himem":
            key = (case.method, case.params["live"])
            per_pair[key] = case.median("pairs_ns") / case.params["pairs"]
            spreads[key] = spread_of(case, "pairs_ns")
            notes[key] = failed_note(case)
    lives = sorted({live for _, live in per_pair})
    for live in lives:
        ours = per_pair.get(("allocator", live), float("nan"))
        rows.append(
            Row("himem", f"allocator, {live} live", "per pair", ours, "ns",
                ratio(ours, per_pair.get(("allocator", lives[0]), float("nan"))),
                f"x its own at {lives[0]} live (at 100000: target <= 2)"
                + notes.get(("allocator", live), ""), spreads.get(("allocator", live)))
        )  # fmt: skip
        for other in ("genpool", "list"):
            if (other, live) in per_pair:
                rows.append(
                    Row("himem", f"{other}, {live} live", "per pair", per_pair[(other, live)],
                        "ns", ratio(ours, per_pair[(other, live)]),
                        f"the allocator's pair / {other}'s" + (" (at 10000: target <= 1)"
                                                              if other == "genpool" else "")
                        + notes.get((other, live), ""), spreads.get((other, live)))
                )  # fmt: skip
    for case in cases:
        if case.group == "himem2":
            wall = case.median("wall_ns") / case.params["pairs"]
            alone = per_pair.get(("allocator", case.params["live"]), float("nan"))
            rows.append(
                Row("himem", f"allocator, two threads, {case.params['live']} live",
                    "wall per pair", wall, "ns", ratio(wall, alone),
                    "x one thread" + failed_note(case), spread_of(case, "wall_ns"))
            )  # fmt: skip
    return rows


def bounce_rows(cases: list[Case]) -> list[Row]:
    """Each boot's loopback against the memcpy of the same boot."""
    rows = []
    for case in cases:
        if case.group != "bounce" or case.method != "loopback":
            continue
        memcpy = find(cases, "bounce", case.name, "memcpy")
        base_mib = memcpy.median("mib_s") if memcpy else float("nan")
        base_cpu = memcpy.median("cpu_ns_per_mib") if memcpy else float("nan")
        rows.append(
            Row("bounce", f"loopback, {case.name}", "throughput", case.median("mib_s"), "MiB/s",
                ratio(case.median("mib_s"), base_mib), "x memcpy in the same boot",
                spread_of(case, "mib_s"))
        )  # fmt: skip
        rows.append(
            Row("bounce", f"loopback, {case.name}", "CPU per MiB", case.median("cpu_ns_per_mib"),
                "ns", ratio(case.median("cpu_ns_per_mib"), base_cpu), "x memcpy in the same boot",
                spread_of(case, "cpu_ns_per_mib"))
        )  # fmt: skip
        forced = case.name == "swiotlb forced"
        rows.append(
            Row("bounce", f"loopback, {case.name}", "ring bytes mapped through swiotlb",
                case.median("bounced_bytes"), "bytes",
                baseline="every ring page, as forced" if forced else "reachable rings: target 0")
        )  # fmt: skip
        rows.append(
            Row("bounce", f"memcpy, {case.name}", "throughput", base_mib, "MiB/s",
                baseline="the baseline", spread=spread_of(memcpy, "mib_s"))
        )  # fmt: skip
        rows.append(
            Row("bounce", f"memcpy, {case.name}", "CPU per MiB", base_cpu, "ns",
                baseline="the baseline", spread=spread_of(memcpy, "cpu_ns_per_mib"))
        )  # fmt: skip
    return rows


def rows(cases: list[Case]) -> list[Row]:
    return (
        ring_rows(cases)
        + frag_rows(cases)
        + desc_rows(cases)
        + himem_rows(cases)
        + bounce_rows(cases)
    )


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "failed" if unit == "failed" else "n/a"
    if unit == "bytes":
        return f"{value / (1 << 20):.1f} MiB" if value >= 1 << 20 else f"{value:.0f} B"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def markdown(meta: dict[str, Any], report_rows: list[Row]) -> str:
    """The table `invoke bench` prints and saves."""
    lines = [
        f"# masterdma bench: {meta.get('kernel', '?')}, {meta.get('accelerator', '?')}, "
        f"commit {meta.get('commit', '?')}",
        "",
        "Medians of the repetitions (after a warm-up round for rings); spread is their "
        "max - min over the median; ratios are to the baseline named beside them, "
        "from the same run. Targets are reported, never enforced.",
    ]
    group = None
    for row in report_rows:
        if row.group != group:
            group = row.group
            lines += [
                "",
                f"## {group}",
                "",
                "| case | figure | value | spread | ratio | baseline |",
            ]
            lines.append("|---|---|---|---|---|---|")
        value = _fmt(row.value, row.unit)
        value += "" if row.unit in {"bytes", "failed"} else f" {row.unit}"
        spread = "" if row.spread is None or math.isnan(row.spread) else f"{row.spread:.0%}"
        ratio_text = _fmt(row.ratio)
        lines.append(
            f"| {row.what} | {row.figure} | {value} | {spread} | {ratio_text} | {row.baseline} |"
        )
    return "\n".join(lines) + "\n"
