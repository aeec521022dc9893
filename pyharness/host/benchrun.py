"""The host side of `invoke bench`: two boots of one kernel, one results directory.

The bench profile's boot runs every group; the bench-swiotlb profile's boot,
the same machine with swiotlb=force, moves the same loopback data through
bounce slots.  Both run directories stay under build/runs; the results go to
build/bench/<stamp>/ (results.json, results.md, the PNG plots).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure as Plot

from ..config import Paths
from ..errors import HarnessError
from ..model import bench
from ..runner import announce
from . import kcidb, vmtest

MAIN_GROUPS = "ring,descriptors,fragmentation,himem,bounce"
# A default run takes 2-10 min under TCG, by machine; the debug kernel is not for figures.
BENCH_TIMEOUT = 3600.0


@dataclass(frozen=True)
class BenchRequest:
    kernel: str
    kvm: str
    options: bench.Options
    groups: tuple[str, ...] = tuple(MAIN_GROUPS.split(","))


@dataclass(frozen=True)
class BenchResult:
    directory: Path
    files: dict[str, Path]
    markdown: str


def commit(root: Path) -> str:
    """The checkout's commit (12 digits), with "+dirty" when the tree differs
    from it; "unknown" outside a git checkout (kcidb.checkout asks git)."""
    head, dirty = kcidb.checkout(root)
    return head[:12] + ("+dirty" if dirty else "") if head else "unknown"


def run(request: BenchRequest, paths: Paths) -> BenchResult:
    boots = [("bench", ",".join(request.groups))]
    if "bounce" in request.groups:
        boots.append(("bench-swiotlb", "bounce"))
    # what was built and when: before the boots, which take minutes
    started, built_from = time.strftime("%Y-%m-%dT%H:%M:%S%z"), commit(paths.root)
    out = paths.build / "bench" / time.strftime("%Y%m%d-%H%M%S")
    reports = []
    for profile, groups in boots:
        announce(f"bench: {profile} profile, groups {groups}")
        report = vmtest.run(
            vmtest.VmTestRequest(
                kernel=request.kernel,
                profile=profile,
                kvm=request.kvm,
                timeout=BENCH_TIMEOUT,
                bench=(groups, *request.options.args()),
            ),
            paths,
        )
        if not report.ok:
            print(report.text())
            raise HarnessError(f"bench boot ({profile}) failed: {'; '.join(report.problems)}")
        reports.append(report)
    cases = bench.load_cases(Path(r.run_dir) / bench.RESULTS for r in reports)
    meta = {
        "kernel": reports[0].kernel,
        "accelerator": reports[0].accel,
        "accelerator_reason": reports[0].accel_reason,
        "profile": ", ".join(r.profile for r in reports),
        "commit": built_from,
        "started": started,
        "options": {"reps": request.options.reps, "full": request.options.full},
        "run_dirs": [r.run_dir for r in reports],
    }
    files = write_results(out, meta, cases)
    return BenchResult(out, files, files["markdown"].read_text())


def write_results(out: Path, meta: dict[str, Any], cases: list[bench.Case]) -> dict[str, Path]:
    """results.json (meta, every case with its repetitions, the report rows),
    results.md and the PNG plots, in out."""
    out.mkdir(parents=True, exist_ok=True)
    report_rows = bench.rows(cases)
    data = {
        **meta,
        "cases": [c.to_json() for c in cases],
        "rows": [asdict(r) for r in report_rows],
    }
    files = {"json": out / "results.json", "markdown": out / "results.md"}
    files["json"].write_text(json.dumps(_no_nan(data), indent=2, allow_nan=False) + "\n")
    files["markdown"].write_text(bench.markdown(meta, report_rows))
    files.update(plots(out, cases))
    return files


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: a figure that does not exist (a method that failed) is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def plots(out: Path, cases: list[bench.Case]) -> dict[str, Path]:
    """ring-setup.png (ns per page by geometry and method) and himem.png (ns
    per pair against live regions, log scale)."""
    made = {}
    ring = [c for c in cases if c.group == "ring" and "setup_ns" in c.figures]
    if ring:
        names = list(dict.fromkeys(c.name for c in ring))
        fig = Plot(figsize=(10, 4.5))
        ax = fig.subplots()
        width = 0.8 / len(bench.RING_METHODS)
        for i, method in enumerate(bench.RING_METHODS):
            heights = []
            for name in names:
                case = bench.find(ring, "ring", name, method)
                pages = (case.params.get("pages") or 1) if case else 1
                heights.append(case.median("setup_ns") / pages if case else float("nan"))
            ax.bar([x + i * width for x in range(len(names))], heights, width, label=method)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names, rotation=20,
                      ha="right", fontsize=8)  # fmt: skip
        ax.set_ylabel("setup, ns per page")
        ax.set_title("Ring setup by method (median; missing bar: the method failed)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        made["ring plot"] = out / "ring-setup.png"
        fig.savefig(made["ring plot"])
    himem = [c for c in cases if c.group == "himem" and "pairs_ns" in c.figures]
    if himem:
        fig = Plot(figsize=(7, 4.5))
        ax = fig.subplots()
        for kind in bench.HIMEM_KINDS:
            points = sorted(
                (c.params["live"], c.median("pairs_ns") / c.params["pairs"])
                for c in himem
                if c.method == kind
            )
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=kind)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("live regions")
        ax.set_ylabel("ns per allocate+free pair")
        ax.set_title("High-memory bookkeeping (median)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        made["himem plot"] = out / "himem.png"
        fig.savefig(made["himem plot"])
    return made
