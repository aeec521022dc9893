"""The high-memory allocator: allocator.ko, its linked build, /dev/himem, a second client.

Runs in the himem profile (512 MiB, mem=440M: not a multiple of 64 MiB, so x86
registers a "RAM buffer" up to 448 MiB, which the claim steps over).  Each test
loads what it
needs and unloads it after, so every test starts from an empty allocator.
Where the kernel was booted without mem= (the other profiles) only the
refusal to load is tested.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pyharness import uapi
from pyharness.guest import guestkit, himem, vmaccess
from pyharness.guest import masterdev as md
from pyharness.guest import netlink as nl
from pyharness.model import compare, figures, himemmodel, kjudge
from pyharness.model.himemmodel import PAGE, Region

from . import test_concurrency as storm
from . import test_fuzz as fuzz

HIMEM = himem.mem_limit() is not None
needs_himem = pytest.mark.skipif(not HIMEM, reason="needs mem= below the RAM (himem profile)")


def _texts(kmsg: guestkit.Kmsg) -> list[str]:
    return [line.text for line in kjudge.parse_kmsg(kmsg.read())]


def _claims() -> list[himemmodel.IomemEntry]:
    return [entry for entry in himem.iomem() if entry.name == himemmodel.CLAIM_NAME]


def _expected() -> tuple[int, int]:
    """Where the claim should start and its size, from the firmware and /proc/iomem."""
    mem = himem.mem_limit()
    assert mem is not None
    return himemmodel.expected_claim(mem, himem.firmware_ram(), himem.iomem())


def _expected_size() -> int:
    return _expected()[1]


@needs_himem
def test_claim_is_the_unregistered_ram_above_mem(module_paths: dict[str, Path]) -> None:
    """The claim starts at mem= or past what is registered there, is what the
    firmware calls RAM minus what is registered, and overlaps nothing else."""
    base, want = _expected()
    with himem.loaded(module_paths["allocator"]):
        summary = himem.summary()
        entries = himem.iomem()
    assert want >= 16 << 20
    assert summary["state"] == "enabled"
    assert (summary["base"], summary["size"]) == (base, want)
    assert summary["free"] == summary["largest_free"] == want
    assert summary["regions"] == 0
    (claim,) = [e for e in entries if e.name == himemmodel.CLAIM_NAME]
    assert (claim.start, claim.end + 1, claim.depth) == (base, base + want, 0)
    assert [e for e in entries if e != claim and e.overlaps(base, base + want)] == []
    assert _claims() == []
    figures.record("allocator claim above mem=", want >> 10, "KiB")


@needs_himem
def test_the_claim_steps_over_the_ram_buffer_above_mem(module_paths: dict[str, Path]) -> None:
    """x86 registers "RAM buffer" from an unaligned mem= up to 64 MiB: the
    allocator starts past it, neither failing with EBUSY nor writing there."""
    mem = himem.mem_limit()
    ram_buffers = [e for e in himem.iomem() if e.name == "RAM buffer" and e.start == mem]
    if not ram_buffers:
        pytest.skip("mem= is a multiple of 64 MiB: nothing registered above it")
    with himem.loaded(module_paths["allocator"]):
        summary = himem.summary()
    assert summary["base"] == ram_buffers[0].end + 1
    assert summary["size"] == _expected_size() >= 16 << 20


@needs_himem
def test_whole_claim_filled_through_mmap_leaves_acpi_tables_alone(door: himem.Door) -> None:
    tables = himem.acpi_tables()
    assert tables, "no ACPI tables to compare"
    summary = himem.summary()
    region = door.alloc(int(summary["size"]))
    assert (region.start, region.size) == (summary["base"], summary["size"])
    # a chunk at a time: the whole claim at once is three copies of 64 MiB,
    # more than the debug kernel leaves of mem=440M beside KASAN's shadow
    chunk = 1 << 20
    period = bytes(range(251)) * (chunk // 251 + 2)
    with door.mapped(region) as mem:
        for offset in range(0, region.size, chunk):
            size = min(chunk, region.size - offset)
            pattern = period[offset % 251 : offset % 251 + size]
            where = f"the region at +{offset:#x}"
            compare.assert_same(mem[offset : offset + size], bytes(size), f"{where}, before")
            mem[offset : offset + size] = pattern
            compare.assert_same(mem[offset : offset + size], pattern, where)
    door.free(region.start)
    assert himem.summary()["regions"] == 0
    assert himem.acpi_tables() == tables


# Cases that work on a region's PFN mapping: debuggers go through .access.
HIMEM_MUST_WORK = ("mprotect", "mremap move", "partial munmap", "fork", "/proc/self/mem")


@needs_himem
def test_every_access_to_a_region_mapping_works_or_is_refused_at_the_call(
    door: himem.Door,
) -> None:
    """As for rings (tests/vm/test_mappings.py): bytes or an errno, never a signal."""
    region = door.alloc(3 * PAGE)
    pattern = bytes((i * 5 + 1) & 0xFF for i in range(region.size))

    def region_mapping() -> tuple[mmap.mmap, bytes]:
        mapped = mmap.mmap(door.fd, region.size, offset=region.start)
        mapped[:] = pattern
        return mapped, pattern

    outcomes = {o.case: o for o in vmaccess.survey(region_mapping)}
    assert [f"{o.case}: {o.result}" for o in outcomes.values() if not o.acceptable] == []
    assert {c: outcomes[c].result for c in HIMEM_MUST_WORK} == dict.fromkeys(HIMEM_MUST_WORK, "ok")
    with door.mapped(region) as mem:
        compare.assert_same(mem[:], pattern, "the region after the survey")
    door.free(region.start)


class Tracker:
    """Every allocation and free through the door, checked against FirstFit."""

    def __init__(self, door: himem.Door) -> None:
        summary = himem.summary()
        self.door = door
        self.model = himemmodel.FirstFit(int(summary["base"]), int(summary["size"]))
        self.steps = 0
        self.check()

    def alloc(self, nbytes: int) -> Region | None:
        want = self.model.predict(nbytes)
        try:
            region = self.door.alloc(nbytes)
        except OSError as err:
            assert err.errno == errno.ENOMEM, err
            assert want is None, f"{nbytes} bytes refused; a hole at {want:#x} fits"
            self.check()
            return None
        assert want is not None, f"{nbytes} bytes given at {region.start:#x}; nothing fits"
        assert (region.start, region.size) == (want, himemmodel.page_align(nbytes))
        assert region.start % PAGE == 0
        assert self.model.base <= region.start < region.end <= self.model.base + self.model.size
        self.model.allocated(region.start, nbytes)
        self.check()
        return region

    def free(self, start: int) -> None:
        self.door.free(start)
        self.model.freed(start)
        self.check()

    def check(self) -> None:
        self.steps += 1
        summary = himem.summary()
        assert {key: summary[key] for key in ("free", "largest_free", "regions")} == (
            self.model.summary()
        ), f"after step {self.steps}"
        assert [(r.start, r.size) for r in himem.regions()] == sorted(self.model.live.items())


SIZES = {
    "one byte": 1,
    "a page less one": PAGE - 1,
    "a page": PAGE,
    "a page and one": PAGE + 1,
    "three pages and five": 3 * PAGE + 5,
    "a MiB": 1 << 20,
}


@needs_himem
@pytest.mark.parametrize("nbytes", SIZES.values(), ids=SIZES.keys())
def test_one_allocation(door: himem.Door, nbytes: int) -> None:
    tracker = Tracker(door)
    region = tracker.alloc(nbytes)
    assert region is not None
    with door.mapped(region) as mem:
        compare.assert_same(mem[:], bytes(region.size), "a new region")
    tracker.free(region.start)


@needs_himem
def test_whole_claim_then_exhaustion(door: himem.Door) -> None:
    tracker = Tracker(door)
    region = tracker.alloc(tracker.model.size)
    assert region is not None and region.start == tracker.model.base
    assert tracker.alloc(1) is None
    tracker.free(region.start)
    assert tracker.alloc(tracker.model.size + 1) is None


@needs_himem
def test_fill_free_at_random_and_refill_holes(door: himem.Door) -> None:
    """Allocate to exhaustion, free half in random order, refill the holes,
    free everything: the free space merges back into one extent."""
    rng = random.Random(5)
    sizes = [1, 5000, 3 * PAGE, 64 << 10, 256 << 10, 1 << 20]
    tracker = Tracker(door)
    live: list[Region] = []
    while (region := tracker.alloc(rng.choice(sizes))) is not None:
        live.append(region)
    rng.shuffle(live)
    for region in live[: len(live) // 2]:
        tracker.free(region.start)
    live = live[len(live) // 2 :]
    top = max(r.end for r in live)
    refilled = [r for r in (tracker.alloc(rng.choice(sizes[:4])) for _ in range(40)) if r]
    assert any(r.end <= top for r in refilled), "no hole was reused"
    live += refilled
    rng.shuffle(live)
    for region in live:
        tracker.free(region.start)
    assert himem.summary()["largest_free"] == tracker.model.size
    figures.record("allocator steps checked against the model", tracker.steps)


@needs_himem
def test_edu_reads_and_writes_a_region_by_dma(door: himem.Door) -> None:
    """Bytes written through mmap are what edu reads from the dma_map_resource()
    address; what it writes back lands where it was told, nothing else moves."""
    if md.edu_device() is None:
        pytest.skip("no edu device")
    rng = random.Random(3)
    region = door.alloc(int(himem.summary()["size"]))
    pages = region.size // PAGE
    sources = sorted({0, pages - 1, *rng.sample(range(pages), 6)})
    targets = rng.sample(sorted(set(range(pages)) - set(sources)), len(sources))
    with door.mapped(region) as mem:
        for page in sources + targets:
            mem[page * PAGE : (page + 1) * PAGE] = rng.randbytes(PAGE)
        for src, dst in zip(sources, targets, strict=True):
            length, at, to = 2048, rng.randrange(0, PAGE - 2048), rng.randrange(0, PAGE - 2048)
            sent = mem[src * PAGE + at : src * PAGE + at + length]
            before = mem[dst * PAGE : (dst + 1) * PAGE]
            door.edu(region, src * PAGE + at, length, 1024, to_ram=False)
            door.edu(region, dst * PAGE + to, length, 1024, to_ram=True)
            after = mem[dst * PAGE : (dst + 1) * PAGE]
            assert after[to : to + length] == sent, f"page {src} -> {dst}"
            assert after[:to] + after[to + length :] == before[:to] + before[to + length :]
    figures.record("edu transfers to and from the claim", 2 * len(sources))


@needs_himem
def test_unloading_a_client_reclaims_exactly_its_regions(
    door: himem.Door, module_paths: dict[str, Path], kernel_log_judge: guestkit.Kmsg
) -> None:
    mine = door.alloc(3 * PAGE)
    with door.mapped(mine) as mem:
        mem[:] = b"\xa5" * mine.size
    before, refs = himem.summary(), himem.refcount("allocator")
    with himem.loaded(module_paths["himemclient"], "regions=3", "size_kb=64"):
        theirs = [r for r in himem.regions() if r.owner == "himemclient"]
        assert [r.size for r in theirs] == [64 << 10] * 3
        assert himem.summary()["regions"] == int(before["regions"]) + 3
        # a module reference per region, one for the link: no clean unload
        assert himem.refcount("allocator") == refs + 1 + 3
        assert not guestkit.rmmod("allocator").ok
        with pytest.raises(OSError) as refused:
            door.free(theirs[0].start)
        assert refused.value.errno == errno.EINVAL
        kernel_log_judge.read()
    reclaimed = [t for t in _texts(kernel_log_judge) if "reclaimed" in t]
    assert reclaimed == [
        "allocator: himemclient unloaded with 3 regions (196608 bytes) still allocated: reclaimed"
    ]
    assert himem.regions() == [Region(mine.start, mine.size, "himemtest")]
    assert himem.summary() == before
    assert himem.refcount("allocator") == refs
    with door.mapped(mine) as mem:
        compare.assert_same(mem[:], b"\xa5" * mine.size, "the region that stayed")


@needs_himem
def test_client_that_frees_leaves_no_warning(
    door: himem.Door, module_paths: dict[str, Path], kernel_log_judge: guestkit.Kmsg
) -> None:
    with himem.loaded(module_paths["himemclient"], "free_at_exit=1"):
        assert len(himem.regions()) == 3
    assert not any("reclaimed" in t for t in _texts(kernel_log_judge))
    assert himem.regions() == []


@needs_himem
@pytest.mark.parametrize("free_at_exit", [True, False], ids=["freed", "reclaimed"])
def test_a_region_another_owner_filled_reads_as_zero(
    door: himem.Door, module_paths: dict[str, Path], free_at_exit: bool
) -> None:
    """himemclient fills its region with 0xc0 and frees it at unload (or the
    allocator reclaims it); the door's region of the same size, first fit on
    the same RAM, reads as zero."""
    params = ("regions=1", "size_kb=64", f"free_at_exit={int(free_at_exit)}")
    with himem.loaded(module_paths["himemclient"], *params):
        (theirs,) = [r for r in himem.regions() if r.owner == "himemclient"]
    mine = door.alloc(theirs.size)
    try:
        assert mine.start == theirs.start  # the same RAM, dirty before
        with door.mapped(mine) as mem:
            data = mem[:]
        assert data.count(0) == len(data), f"{len(data) - data.count(0)} bytes of earlier data"
    finally:
        door.free(mine.start)


@needs_himem
def test_door_lists_only_its_own_regions(door: himem.Door, module_paths: dict[str, Path]) -> None:
    """LIST gives the door's regions in address order, however many the room,
    and nobody else's.  The state, two owners with holes between them, is
    saved for the report's high-memory map."""
    mine = [door.alloc(n) for n in (64 << 10, 1 << 20, 5000, 4 << 20, 3 * PAGE, 8 << 20)]
    for gone in (mine[1], mine[4]):
        door.free(gone.start)
    kept = sorted((r for r in mine if r not in (mine[1], mine[4])), key=lambda r: r.start)
    with himem.loaded(module_paths["himemclient"], "regions=5", "size_kb=512", "free_at_exit=1"):
        everything = himem.regions()
        assert door.list() == (kept, 4)
        assert door.list(room=2) == (kept[:2], 4)
        assert door.list(room=0) == ([], 4)
        assert [r for r in everything if r.owner == "himemtest"] == kept
        assert sum(r.owner == "himemclient" for r in everything) == 5
        with pytest.raises(OSError) as err:
            door.list(pad=1)
        assert err.value.errno == errno.EINVAL
        himem.save_snapshot(Path(os.environ["MASTERDMA_RUN_DIR"]))
    for region in kept:
        door.free(region.start)
    assert door.list() == ([], 0)


@needs_himem
def test_linked_build_alone(module_paths: dict[str, Path], kernel_log_judge: guestkit.Kmsg) -> None:
    """himemlink claims the same RAM, passes its self-test at load, and its
    cleanup frees the region the self-test left, without a warning."""
    with himem.loaded(module_paths["himemlink"]):
        summary = himem.summary("himemlink")
        left = himem.regions("himemlink")
        claims = _claims()
    assert summary["state"] == "enabled" and summary["size"] == _expected_size()
    assert [(r.size, r.owner) for r in left] == [(PAGE, "himemlink")]
    assert len(claims) == 1
    texts = _texts(kernel_log_judge)
    assert any(t.startswith("himemlink: self-test passed") for t in texts), texts
    assert not any("reclaimed" in t for t in texts)
    assert _claims() == []


@needs_himem
@pytest.mark.parametrize("first, second", [("allocator", "himemlink"), ("himemlink", "allocator")])
@pytest.mark.kernel_expect("error")  # its pr_err/dev_err is the point
def test_the_two_builds_exclude_each_other(
    module_paths: dict[str, Path], kernel_log_judge: guestkit.Kmsg, first: str, second: str
) -> None:
    with himem.loaded(module_paths[first]):
        refused = guestkit.insmod(module_paths[second])
        assert not refused.ok and "Device or resource busy" in refused.output, refused.output
        assert not guestkit.loaded(second)
        assert len(_claims()) == 1
    texts = _texts(kernel_log_judge)
    assert any(t.startswith(f"{second}: the RAM at") and "already claimed" in t for t in texts)
    assert not any("RAM buffer" in t for t in texts)


@needs_himem
def test_allocator_himem_16_uses_16_mib(module_paths: dict[str, Path]) -> None:
    with himem.loaded(module_paths["allocator"], "allocator_himem=16"):
        summary = himem.summary()
        (claim,) = _claims()
    assert summary["size"] == summary["free"] == 16 << 20
    assert claim.end + 1 - claim.start == 16 << 20


@needs_himem
@pytest.mark.parametrize(
    "params", [("allocator_probe=0",), ("allocator_step=4",), ("allocator_step=100",)]
)
def test_probe_and_step_find_the_same_ram(
    module_paths: dict[str, Path], params: tuple[str]
) -> None:
    want = _expected_size()
    with himem.loaded(module_paths["allocator"], *params):
        assert himem.summary()["size"] == want


@needs_himem
def test_negative_allocator_himem_loads_disabled(module_paths: dict[str, Path]) -> None:
    """Documented choice: a negative value loads the module with nothing
    claimed, so drivers that use it still load, and every allocation is 0.
    A refused allocation leaves no owner entry behind (one did, and leaked
    at unload: kmemleak on the debug kernel)."""
    with himem.loaded(module_paths["allocator"], "allocator_himem=-1"):
        assert _claims() == []
        with himem.loaded(module_paths["himemtest"]), himem.Door() as door:
            summary = himem.summary()
            assert (summary["state"], summary["size"]) == ("disabled", 0)
            with pytest.raises(OSError) as refused:
                door.alloc(PAGE)
            assert refused.value.errno == errno.ENOMEM
            assert int(himem.summary()["owners"]) == 0


@pytest.mark.kernel_expect("error")  # its pr_err/dev_err is the point
@needs_himem
def test_zero_step_is_invalid(
    module_paths: dict[str, Path], kernel_log_judge: guestkit.Kmsg
) -> None:
    refused = guestkit.insmod(module_paths["allocator"], "allocator_step=0")
    # kmod's insmod words EINVAL as "Invalid parameters"
    assert not refused.ok and "Invalid parameters" in refused.output, refused.output
    assert "allocator: allocator_step=0: must be at least 1 (MiB)" in _texts(kernel_log_judge)


@pytest.mark.kernel_expect("error")  # its pr_err/dev_err is the point
@pytest.mark.skipif(HIMEM, reason="needs a kernel booted without mem=")
def test_without_mem_the_allocator_refuses_to_load(
    module_paths: dict[str, Path], kernel_log_judge: guestkit.Kmsg
) -> None:
    refused = guestkit.insmod(module_paths["allocator"])
    assert not refused.ok and "Cannot allocate memory" in refused.output, refused.output
    texts = _texts(kernel_log_judge)
    assert any(t.startswith("allocator: no RAM above the kernel's") for t in texts), texts
    assert not guestkit.loaded("allocator")


BAD_FREES = ("never allocated", "inside a region", "unaligned", "double", "zero")
REASONS = {
    "never allocated": "not allocated",
    "inside a region": "inside a region",
    "unaligned": "inside a region",
    "double": "not allocated",
    "zero": "not allocated",
}


@needs_himem
@pytest.mark.parametrize("case", BAD_FREES)
def test_bad_free_is_refused(door: himem.Door, kernel_log_judge: guestkit.Kmsg, case: str) -> None:
    region = door.alloc(2 * PAGE)
    if case == "double":
        door.free(region.start)
    address = {
        "never allocated": region.end + 16 * PAGE,
        "inside a region": region.start + PAGE,
        "unaligned": region.start + 8,
        "double": region.start,
        "zero": 0,
    }[case]
    kept = himem.summary(), himem.regions()
    with pytest.raises(OSError) as refused:
        door.free(address)
    assert refused.value.errno == errno.EINVAL
    assert (himem.summary(), himem.regions()) == kept
    messages = [t for t in _texts(kernel_log_judge) if t.startswith("allocator: free of")]
    assert len(messages) == 1, messages
    assert messages[0] == f"allocator: free of {address:#x} by himemtest refused: {REASONS[case]}"


@needs_himem
def test_door_refuses_what_it_does_not_own(door: himem.Door) -> None:
    region = door.alloc(2 * PAGE)
    with pytest.raises(OSError) as err:
        door.alloc(0)
    assert err.value.errno == errno.EINVAL
    for start, length in ((region.start + PAGE, PAGE), (region.start, 3 * PAGE), (0, PAGE)):
        with pytest.raises(OSError) as err, door.mapped(Region(start, length)):
            pass
        assert err.value.errno == errno.EINVAL, (start, length)
    with pytest.raises(OSError) as err:
        door.edu(region, region.size - 16, 32, 0, to_ram=True)
    assert err.value.errno == errno.EINVAL
    with door.mapped(region):
        with pytest.raises(OSError) as err:
            door.free(region.start)
        assert err.value.errno == errno.EBUSY
    door.free(region.start)


@needs_himem
def test_no_owner_unloads_under_a_mapping_of_its_region(module_paths: dict[str, Path]) -> None:
    """A region mapped by a process that has closed /dev/himem: neither its
    owner (himemtest) nor the allocator unloads while the mapping lives, and
    the bytes stay; after munmap the owner unloads and gives the region back."""
    with (
        himem.loaded(module_paths["allocator"]),
        himem.loaded(module_paths["himemtest"]),
    ):
        door = himem.Door()
        try:
            region = door.alloc(2 * PAGE)
            mapping = mmap.mmap(door.fd, region.size, mmap.MAP_SHARED, offset=region.start)
        finally:
            door.close()
        try:
            mapping[:5] = b"still"
            for name in ("himemtest", "allocator"):
                refused = guestkit.rmmod(name)
                assert not refused.ok and guestkit.loaded(name), f"{name} unloaded under a mapping"
            assert mapping[:5] == b"still"
            assert [r.start for r in himem.regions()] == [region.start]
        finally:
            mapping.close()
        assert guestkit.rmmod("himemtest").ok
        assert himem.regions() == []


DOOR_FUZZ = "door ioctls and mmaps"


@needs_himem
def test_the_door_survives_hostile_calls(door: himem.Door, request: pytest.FixtureRequest) -> None:
    """test_fuzz.py's ioctl fuzz on /dev/himem (its commands and their
    neighbours, random structs: sizes, addresses, frees of every kind, list
    rooms and pointers), and mmaps at random offsets and lengths; every call
    succeeds or gives a documented errno, and once the door's regions are
    freed the allocator is as it was."""
    ours = fuzz.our_commands("MASTER_DMA_IOC_HIMEM_")
    edu = ours.pop("MASTER_DMA_IOC_HIMEM_EDU")  # 100 ms of device time a call
    commands = sorted({*ours.values(), *(n for c in ours.values() for n in fuzz.neighbours(c))})
    commands += [n for n in fuzz.neighbours(edu) if n != edu]
    arena = fuzz.Arena()
    before = himem.summary()
    claim = int(before["base"]), int(before["size"])

    def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
        for i in range(fuzz.BATCH):
            pick, kind = shapes[i % len(shapes)]
            cmd = commands[(pick + i) % len(commands)]
            code = fuzz.call_ioctl(arena, door.fd, cmd, kind, rng)
            fuzz.judge(DOOR_FUZZ, code, fuzz.IOCTL_ERRNOS, f"ioctl {cmd:#x} ({kind})")
        for _ in range(fuzz.BATCH // 20):
            offset = rng.choice((0, claim[0], claim[0] + rng.randrange(claim[1]) // PAGE * PAGE))
            try:
                with mmap.mmap(door.fd, rng.choice((PAGE, 3 * PAGE, claim[1])), offset=offset):
                    pass
                code = 0
            except OSError as err:
                code = err.errno or 0
            fuzz.judge(DOOR_FUZZ, code, fuzz.MMAP_ERRNOS, f"mmap {offset:#x}")

    total = int(request.config.getoption("--fuzz-count")) // 10
    fuzz.run_batches(DOOR_FUZZ, total, fuzz.BATCH + fuzz.BATCH // 20, batch)
    for region in door.list()[0]:
        door.free(region.start)
    after = himem.summary()
    # an owner is remembered from its first allocation until it unloads
    assert {**after, "owners": 0} == {**before, "owners": 0}


@needs_himem
def test_two_owners_at_once(
    door: himem.Door, module_paths: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    """For --seconds (a third of it at most 20 s here): threads allocate and
    free through the door at random sizes, one loads and unloads himemclient
    (a second owner, leaving its regions to the allocator half the time),
    others dump regions and totals over netlink and list the door.  Then the
    door's books are the allocator's and, its regions freed, the allocator
    is as it was."""
    seconds = min(float(request.config.getoption("--seconds")), 20.0)
    # the door's allocation when the claim is full (ENOMEM); nothing else
    workers = storm.Workers(
        seconds, {"door": frozenset({errno.ENOMEM}), "client": frozenset(), "read": frozenset()}
    )
    before = himem.summary()
    mine: list[int] = []
    lock = threading.Lock()

    def door_user(rng: random.Random) -> None:
        with lock:
            start = None
            if mine and (len(mine) > 16 or rng.random() < 0.5):
                start = mine.pop(rng.randrange(len(mine)))
        if start is not None:
            door.free(start)
        else:
            region = door.alloc(rng.choice((1, PAGE, 5 * PAGE, 1 << 20)))
            with lock:
                mine.append(region.start)

    def second_owner(rng: random.Random) -> None:
        params = ("regions=2", "size_kb=256", f"free_at_exit={rng.randrange(2)}")
        with himem.loaded(module_paths["himemclient"], *params):
            time.sleep(rng.random() / 5)

    def reader(rng: random.Random) -> None:
        with nl.MasterDmaSocket("allocator") as sock:
            sock.regions()
            sock.totals()
        door.list()

    kinds = [("door", door_user), ("door", door_user), ("client", second_owner), ("read", reader)]
    pool = [
        threading.Thread(target=workers.loop, args=(name, work, seed), daemon=True)
        for seed, (name, work) in enumerate(kinds)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 120)
    assert not any(t.is_alive() for t in pool), "a worker is stuck"
    assert workers.errors == [], workers.errors
    listed, total = door.list()
    owned = [r for r in himem.regions() if r.owner == "himemtest"]
    assert [(r.start, r.size) for r in listed] == [(r.start, r.size) for r in owned]
    assert sorted(mine) == [r.start for r in listed] and total == len(listed)
    for region in listed:
        door.free(region.start)
    assert {**himem.summary(), "owners": 0} == {**before, "owners": 0}
    for key, count in sorted(workers.counts.items()):
        figures.record(f"two owners: {key}", count, "calls")


@needs_himem
def test_door_is_for_root_with_rawio(door: himem.Door) -> None:
    code = f"import os; os.setuid(65534); os.open({str(himem.DEV)!r}, os.O_RDWR)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "PermissionError" in done.stderr, done.stderr
    # root without exactly CAP_SYS_RAWIO (the file's mode lets root in)
    no_rawio = ("setpriv", "--inh-caps=-sys_rawio", "--bounding-set=-sys_rawio")
    code = f"import os; os.open({str(himem.DEV)!r}, os.O_RDWR)"
    done = subprocess.run(
        [*no_rawio, sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and "PermissionError" in done.stderr, done.stderr
    assert os.stat(himem.DEV).st_mode & 0o777 == 0o600


@needs_himem
def test_an_alloc_whose_answer_cannot_be_written_keeps_nothing(door: himem.Door) -> None:
    """ALLOC reads its request, allocates, and cannot write the answer back
    (the page went read-only): EFAULT, and the region is given back."""
    ffi, lib = uapi.ffi(), uapi.lib()
    request = bytes(ffi.buffer(ffi.new("struct master_dma_himem_region *", {"size": PAGE})))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    page = mmap.mmap(-1, PAGE)
    page[: len(request)] = request
    view = ctypes.c_char.from_buffer(page)
    address = ctypes.addressof(view)
    try:
        assert libc.mprotect(address, PAGE, mmap.PROT_READ) == 0
        assert libc.ioctl(door.fd, lib.MASTER_DMA_IOC_HIMEM_ALLOC, address) == -1
        assert ctypes.get_errno() == errno.EFAULT
    finally:
        libc.mprotect(address, PAGE, mmap.PROT_READ | mmap.PROT_WRITE)
        del view
        page.close()
    assert door.list() == ([], 0)
    assert himem.summary()["regions"] == 0


@needs_himem
def test_a_free_sent_between_allocating_and_recording_waits_for_the_record(
    door: himem.Door,
) -> None:
    """himemtest's test_alloc_delay_ms holds an ALLOC for 500 ms between
    allocating its region and recording it; a FREE of that address sent
    meanwhile must wait for the record and then free both, not leave the door
    holding a region the allocator has given back (as it did when ALLOC
    allocated outside the door's lock)."""
    knob = Path("/sys/module/himemtest/parameters/test_alloc_delay_ms")
    probe = door.alloc(PAGE)
    door.free(probe.start)  # first fit: the next ALLOC gets this address again
    freed: list[int | OSError] = []

    def free_meanwhile() -> None:
        # Wait until the allocator holds the region, which ALLOC has not
        # recorded yet (the knob holds it 500 ms), then free it.
        deadline = time.monotonic() + 30
        while not any(r.owner == "himemtest" and r.start == probe.start for r in himem.regions()):
            if time.monotonic() > deadline:
                freed.append(TimeoutError("ALLOC never allocated"))
                return
            time.sleep(0.01)
        try:
            door.free(probe.start)
            freed.append(0)
        except OSError as err:
            freed.append(err)

    racer = threading.Thread(target=free_meanwhile, daemon=True)
    knob.write_text("500")
    try:
        racer.start()
        got = door.alloc(PAGE)
        racer.join(30)
    finally:
        knob.write_text("0")
    assert got.start == probe.start
    assert freed == [0]  # it waited, then freed a recorded region
    assert door.list() == ([], 0)
    assert [r for r in himem.regions() if r.owner == "himemtest"] == []


@needs_himem
def test_a_free_racing_an_alloc_never_splits_the_books(door: himem.Door) -> None:
    """A FREE of the address the next ALLOC will return, sent while that ALLOC
    runs, either fails or frees a region the door has recorded: afterwards
    the door's regions are exactly the allocator's regions of its owner."""
    stop = threading.Event()
    allocated: list[int] = []

    def free_the_next() -> None:
        while not stop.is_set():
            if allocated:
                with contextlib.suppress(OSError):
                    door.free(allocated[-1] + PAGE)

    racer = threading.Thread(target=free_the_next, daemon=True)
    racer.start()
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                allocated.append(door.alloc(PAGE).start)
    finally:
        stop.set()
        racer.join(30)
    listed, total = door.list()
    owned = [r for r in himem.regions() if r.owner == "himemtest"]
    assert total == len(owned)
    assert [(r.start, r.size) for r in listed] == [(r.start, r.size) for r in owned]
    for region in listed:
        door.free(region.start)


@needs_himem
def test_owners_are_only_the_modules_that_allocated(module_paths: dict[str, Path]) -> None:
    """Loading a module costs the allocator nothing (it cannot fail that load);
    a module becomes an owner at its first allocation and stops being one
    when it unloads.  The write probe is off unless asked for."""
    with himem.loaded(module_paths["allocator"]):
        probe = Path("/sys/module/allocator/parameters/allocator_probe")
        assert probe.read_text().strip() == "N"
        assert himem.summary()["owners"] == 0
        with himem.loaded(module_paths["himemtest"]):
            assert himem.summary()["owners"] == 0
            with himem.Door() as door:
                region = door.alloc(PAGE)
                assert himem.summary()["owners"] == 1
                door.free(region.start)
        assert himem.summary()["owners"] == 0


@needs_himem
def test_linked_build_disabled_loads_without_its_self_test(
    module_paths: dict[str, Path], kernel_log_judge: guestkit.Kmsg
) -> None:
    with himem.loaded(module_paths["himemlink"], "allocator_himem=-1"):
        assert himem.summary("himemlink")["state"] == "disabled"
    texts = _texts(kernel_log_judge)
    assert "himemlink: the allocator is disabled: no self-test" in texts, texts
