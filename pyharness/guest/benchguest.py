"""The guest side of `invoke bench`: run the cases of bench.py, one progress
line each, and append each case to RUN_DIR/bench.jsonl.

Runs inside the VM as ``python -m pyharness.guest.benchguest RUN_DIR GROUPS [--full]``
(GROUPS: comma-separated of ring, descriptors, fragmentation, himem, bounce),
after pyharness.guest loaded mdma and masterdev; it loads masterbench.ko and,
for the himem group, allocator.ko from the plan's on-demand modules.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import mmap
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..model import bench
from ..model.plan import Plan
from . import guestkit, himem
from . import masterdev as md

RUN = Path("/sys/kernel/debug/masterbench/run")
GROUPS = ("ring", "descriptors", "fragmentation", "himem", "bounce")


def command(*words: object) -> list[dict[str, int]]:
    """Run one masterbench command (it runs before write() returns) and
    parse its result."""
    fd = os.open(RUN, os.O_RDWR)
    try:
        os.write(fd, " ".join(str(w) for w in words).encode())
        os.lseek(fd, 0, os.SEEK_SET)
        text = b""
        while chunk := os.read(fd, 1 << 16):
            text += chunk
    finally:
        os.close(fd)
    return bench.parse_lines(text.decode())


class Progress:
    """One line per case: its place, what it is, and its headline figure."""

    def __init__(self, total: int, out: Path) -> None:
        self.total, self.done, self.out = total, 0, out
        self.started = time.monotonic()

    def record(self, case: bench.Case, headline: str) -> None:
        self.done += 1
        with self.out.open("a") as f:
            f.write(json.dumps(case.to_json()) + "\n")
        elapsed = time.monotonic() - self.started
        errors = f", errors {sorted(set(case.errors))}" if case.errors else ""
        print(
            f"bench: [{self.done}/{self.total}] {case.group} {case.name} {case.method}: "
            f"{headline}{errors} ({elapsed:.0f} s)",
            flush=True,
        )


def _ms(ns: float) -> str:
    return "failed" if math.isnan(ns) else f"{ns / 1e6:.2f} ms"


def ring_cases(options: bench.Options, progress: Progress) -> None:
    """Each geometry by every method, after one round that is not kept (the
    first ring of a geometry finds the page allocator's lists cold), the
    methods taking turns repetition by repetition, each round starting
    with the next method (bench.turns), so none always runs first."""
    for geo in options.ring_cases:
        rows: dict[str, list[dict[str, int]]] = {m: [] for m in bench.RING_METHODS}
        for method in bench.RING_METHODS:  # the warm-up round
            command("ring", method, geo.buffers, geo.bufsize, geo.tails, 1)
        for rep in range(options.reps):
            for method in bench.turns(bench.RING_METHODS, rep):
                rows[method] += command("ring", method, geo.buffers, geo.bufsize, geo.tails, 1)
        for method in bench.RING_METHODS:
            pages = next((r["pages"] for r in rows[method] if "pages" in r), None)
            params = {"buffers": geo.buffers, "bufsize": geo.bufsize, "tails": geo.tails,
                      "pages": pages}  # fmt: skip
            case = bench.case_from_rows(
                "ring", geo.label, method, params, rows[method],
                units={"setup_ns": "ns", "teardown_ns": "ns"},
            )  # fmt: skip
            progress.record(case, f"setup {_ms(case.median('setup_ns'))}")


def descriptor_cases(options: bench.Options, progress: Progress) -> None:
    units = {k: "ns" for k in ("ours_alloc_ns", "ours_free_ns", "pool_alloc_ns", "pool_free_ns")}
    for count in bench.DESC_COUNTS:
        rows = command("descs", count, options.reps)
        case = bench.case_from_rows("descriptors", str(count), "ours+pool", {"count": count},
                                    rows, units=units)  # fmt: skip
        per = (case.median("ours_alloc_ns") + case.median("ours_free_ns")) / count
        progress.record(case, f"{per:.0f} ns per descriptor")


PRESSURE = """
import ctypes, mmap, sys, time
ctypes.CDLL(None).mlockall(3)  # MCL_CURRENT | MCL_FUTURE: see lock_in_memory()
size = int(sys.argv[1])
with mmap.mmap(-1, size) as m:
    print("ready", flush=True)  # populated (mlock): the fragmenter may start
    while True:
        for off in range(0, size, 4096):
            m[off] = (m[off] + 1) & 0xFF
        time.sleep(0.01)
"""


@contextlib.contextmanager
def memory_pressure(fraction: float) -> Iterator[None]:
    """A process that keeps touching fraction of the free memory, locked in
    before the fragmenter starts.  It allocates nothing while the methods
    run: a process that did was killed by the OOM killer once a method's
    ring reached MemAvailable (user memory cannot fail instead)."""
    size = int(free_bytes() * fraction) // mmap.PAGESIZE * mmap.PAGESIZE
    child = subprocess.Popen([sys.executable, "-c", PRESSURE, str(size)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        if child.stdout.readline() != b"ready\n":  # its memory in place first
            raise OSError(f"the memory pressure process did not start ({child.poll()})")
        yield
    finally:
        guestkit.kill_and_reap(child, 9)


def free_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemFree:"):
            return int(line.split()[1]) << 10
    raise OSError("no MemFree in /proc/meminfo")


def lock_in_memory() -> None:
    """mlockall() this process: the fragmenter takes every free page the
    kernel gives, and its reclaim would evict our code's page cache; a
    fault on it then finds no memory and wakes the OOM killer."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(3) != 0:  # MCL_CURRENT | MCL_FUTURE
        raise OSError(ctypes.get_errno(), "mlockall")


def fragmentation_cases(options: bench.Options, progress: Progress) -> None:
    lock_in_memory()
    for condition, pressure in (("idle", 0.0), ("under pressure", 0.15)):
        with memory_pressure(pressure) if pressure else contextlib.nullcontext():
            try:  # a fragmenter that fails half-way holds pages too
                held = command("fragment")[0]
                for method in bench.FRAG_METHODS:
                    rows = command("largest", method, bench.FRAG_BUFSIZE, "packed")
                    # one denominator for every method: memory as the fragmenter left it
                    params = {"bufsize": bench.FRAG_BUFSIZE, "free_pages": held["free_pages"],
                              "available_pages": held["available_pages"],
                              "held_pages": held["held_pages"]}  # fmt: skip
                    case = bench.case_from_rows("fragmentation", condition, method, params, rows,
                                                units={"largest_bytes": "bytes"})  # fmt: skip
                    share = case.median("largest_bytes") / (params["free_pages"] * bench.PAGE)
                    progress.record(case, f"{share:.1%} of free memory")
            finally:
                command("unfragment")


def himem_cases(options: bench.Options, progress: Progress) -> None:
    size = int(himem.summary()["size"])
    for live in bench.HIMEM_LIVE:
        rows: dict[str, list[dict[str, int]]] = {k: [] for k in bench.HIMEM_KINDS}
        for rep in range(options.reps):  # the kinds take turns, as the ring methods do
            for kind in bench.turns(bench.HIMEM_KINDS, rep):
                rows[kind] += command("himem", kind, live, bench.himem_pairs(kind, live), size)
        for kind in bench.HIMEM_KINDS:
            params = {"live": live, "pairs": bench.himem_pairs(kind, live), "size": size}
            case = bench.case_from_rows("himem", f"{live} live", kind, params, rows[kind],
                                        units={"pairs_ns": "ns", "fill_ns": "ns"})  # fmt: skip
            progress.record(case, f"{case.median('pairs_ns') / params['pairs']:.0f} ns/pair")
    live = bench.HIMEM_LIVE[-2]
    both = [r for _ in range(options.reps) for r in command("himem2", live, bench.HIMEM_PAIRS)]
    params = {"live": live, "pairs": 2 * bench.HIMEM_PAIRS}
    case = bench.case_from_rows("himem2", f"{live} live", "allocator", params, both,
                                units={"wall_ns": "ns"})  # fmt: skip
    progress.record(case, f"{case.median('wall_ns') / params['pairs']:.0f} ns per pair (wall time)")


def cpu_seconds() -> float:
    """Busy CPU time of the whole guest (the loopback engine is a kworker)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def loopback_once(total: int) -> tuple[float, float, int]:
    """Move total bytes asitx0 -> asirx0; seconds, CPU seconds, bytes bounced."""
    tx_name, rx_name = md.set_pair("asi", 64, 65536)
    data = os.urandom(1 << 20)
    with md.opened(tx_name) as tx, md.opened(rx_name) as rx:
        bounced = sum(int(md.summary(n)["bounced_pages"]) for n in (tx_name, rx_name)) * 4096
        failure: list[BaseException] = []

        def writer() -> None:
            try:
                for _ in range(total // len(data)):
                    os.write(tx, data)
            except OSError as err:
                failure.append(err)

        start, cpu = time.monotonic(), cpu_seconds()
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        got = 0
        while got < total:
            md.wait_ready(rx, select.POLLIN)
            got += len(os.read(rx, 1 << 20))
        seconds, cpu = time.monotonic() - start, cpu_seconds() - cpu
        thread.join(30)
        if failure:
            raise failure[0]
    return seconds, cpu, bounced


def memcpy_once(total: int) -> tuple[float, float]:
    """memcpy of total bytes, repeated for at least bench.MEMCPY_SECONDS so
    that /proc/stat's 10 ms ticks resolve it; seconds and guest CPU seconds
    per total bytes, measured as the loopback's are."""
    src, dst = bytearray(os.urandom(1 << 20)) * (total >> 20), bytearray(total)
    cs = (ctypes.c_char * total).from_buffer(src)
    cd = (ctypes.c_char * total).from_buffer(dst)
    copies, start, cpu = 0, time.monotonic(), cpu_seconds()
    while copies == 0 or time.monotonic() - start < bench.MEMCPY_SECONDS:
        ctypes.memmove(cd, cs, total)
        copies += 1
    seconds, cpu = time.monotonic() - start, cpu_seconds() - cpu
    del cs, cd
    return seconds / copies, cpu / copies


def bounce_cases(options: bench.Options, progress: Progress) -> None:
    forced = "swiotlb=force" in Path("/proc/cmdline").read_text()
    mib = bench.BOUNCE_BYTES / (1 << 20)
    name = "swiotlb forced" if forced else "pages reachable"
    samples = [loopback_once(bench.BOUNCE_BYTES) for _ in range(options.reps)]
    rows = [
        {"mib_s": int(mib / s), "cpu_ns_per_mib": int(c * 1e9 / mib), "bounced_bytes": b}
        for s, c, b in samples
    ]
    units = {"mib_s": "MiB/s", "cpu_ns_per_mib": "ns", "bounced_bytes": "bytes"}
    case = bench.case_from_rows("bounce", name, "loopback", {"bytes": bench.BOUNCE_BYTES}, rows,
                                units=units)  # fmt: skip
    progress.record(case, f"{case.median('mib_s'):.0f} MiB/s")
    # the baseline of this boot, for this boot's loopback
    copies = [memcpy_once(bench.BOUNCE_BYTES) for _ in range(options.reps)]
    rows = [{"mib_s": int(mib / s), "cpu_ns_per_mib": int(c * 1e9 / mib)} for s, c in copies]
    case = bench.case_from_rows("bounce", name, "memcpy", {"bytes": bench.BOUNCE_BYTES}, rows,
                                units=units)  # fmt: skip
    progress.record(case, f"{case.median('mib_s'):.0f} MiB/s")


RUNNERS: dict[str, Callable[[bench.Options, Progress], None]] = {
    "ring": ring_cases,
    "descriptors": descriptor_cases,
    "fragmentation": fragmentation_cases,
    "himem": himem_cases,
    "bounce": bounce_cases,
}


def count(groups: list[str], options: bench.Options) -> int:
    sizes = {
        "ring": len(options.ring_cases) * len(bench.RING_METHODS),
        "descriptors": len(bench.DESC_COUNTS),
        "fragmentation": 2 * len(bench.FRAG_METHODS),
        "himem": len(bench.HIMEM_LIVE) * len(bench.HIMEM_KINDS) + 1,
        "bounce": 2,
    }
    return sum(sizes[g] for g in groups)


def main(argv: list[str]) -> int:
    run_dir, groups = Path(argv[0]), argv[1].split(",")
    options = bench.Options.from_args(argv[2:])
    unknown = set(groups) - set(GROUPS)
    if unknown:
        print(f"bench: unknown groups {sorted(unknown)}", file=sys.stderr)
        return 2
    on_demand = {Path(p).stem: Path(p) for p in Plan.load(run_dir).on_demand}
    progress = Progress(count(groups, options), run_dir / bench.RESULTS)
    with contextlib.ExitStack() as stack:
        if "himem" in groups:
            stack.enter_context(himem.loaded(on_demand["allocator"]))
        if set(groups) - {"bounce"}:
            stack.enter_context(himem.loaded(on_demand["masterbench"]))
        for group in groups:
            RUNNERS[group](options, progress)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
