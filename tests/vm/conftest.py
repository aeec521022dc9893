"""Fixtures of the VM suite: it runs inside the guest, as root, with the modules loaded.

Every test is judged by the kernel log: the autouse fixture brackets it with
markers in /dev/kmsg, reads what the kernel said meanwhile and fails the test
on any report (oops, BUG, WARNING, KASAN...), any message at err level or
worse, or new taint beyond O/E.  On the debug kernel it also scans for
kmemleak reports and reads DMA-API debugging's error count and lockdep's
debug_locks after each test; a last kmemleak scan, once every object is old
enough to be reported, ends the session.  A test that provokes a report on purpose
says so with ``@pytest.mark.kernel_expect("WARNING")`` (or ``"error"``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from pyharness.guest import guestkit, himem
from pyharness.guest import masterdev as md
from pyharness.model import figures, kjudge
from pyharness.model.plan import Plan

# The guest's view of the repository is read-only, and the fuzz tests keep no
# example database anyway (their seed is fixed): say so before hypothesis looks.
settings.register_profile("guest", database=None)
settings.load_profile("guest")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-count",
        type=int,
        default=100_000,
        help="calls the fuzz tests make in all (test_fuzz.py; default 100000)",
    )
    parser.addoption(
        "--threads",
        type=int,
        default=8,
        help="workers of the concurrency test (test_concurrency.py; default 8)",
    )
    parser.addoption(
        "--seconds",
        type=float,
        default=60.0,
        help="how long the concurrency test runs (test_concurrency.py; default 60)",
    )
    parser.addoption(
        "--dkms",
        action="store_true",
        help="run the DKMS test (test_dkms.py: DKMS compiles in the guest, 20 min under TCG)",
    )


def _step(marker: Callable[[str], str], step: str) -> None:
    """Mark a step of pytest's own in the kernel log, as the runner marks its
    insmods: on the debug kernel the start of pytest takes minutes, and the
    markers say where they go."""
    if os.environ.get("MASTERDMA_RUN_DIR"):
        guestkit.kmsg_write(marker(step))


def pytest_sessionstart() -> None:
    _step(kjudge.begin_marker, "pytest collection")


def pytest_collection_finish() -> None:
    _step(kjudge.end_marker, "pytest collection")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # lockdep checks nothing after its first report: such tests go last.
    items.sort(key=lambda item: item.get_closest_marker("lockdep_off") is not None)
    if not os.environ.get("MASTERDMA_RUN_DIR"):
        skip = pytest.mark.skip(reason="VM test: run it with `invoke vm-test`")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def plan() -> Plan:
    return Plan.load(Path(os.environ["MASTERDMA_RUN_DIR"]))


@pytest.fixture(scope="session")
def module_paths(plan: Plan) -> dict[str, Path]:
    """Every module of the run, loaded at boot or on demand, by name."""
    paths = {spec.name: Path(spec.path) for spec in plan.modules}
    return paths | {Path(path).stem: Path(path) for path in plan.on_demand}


Reload = Callable[..., None]


@pytest.fixture
def boot_params(plan: Plan) -> tuple[str, ...]:
    """masterdev's parameters of this profile (edu_dma_bits=32 in users and himem)."""
    return next(spec.params for spec in plan.modules if spec.name == "masterdev")


@pytest.fixture
def reload(module_paths: dict[str, Path], boot_params: tuple[str, ...]) -> Reload:
    """Unload masterdev and load it again with the profile's parameters and
    these extra ones, so that the tests after it run as the profile says."""

    def reload_with(*extra: str) -> None:
        removed = guestkit.rmmod("masterdev")
        assert removed.ok, removed.output
        inserted = guestkit.insmod(module_paths["masterdev"], *boot_params, *extra)
        assert inserted.ok, inserted.output

    return reload_with


@pytest.fixture(scope="session", autouse=True)
def device_checks() -> None:
    """Say in the report which device the rings are mapped for, so which checks ran."""
    if not md.SYSFS.exists():
        return
    device = md.dma_device("asitx0")
    if device == md.edu_device():
        figures.record("rings mapped for", f"edu {device}: edu check and bus-address engine")
    else:
        figures.record("rings mapped for", f"{device}: bus-address engine only (no edu)")


@pytest.fixture(scope="session", autouse=True)
def kmemleak_session() -> Iterator[None]:
    """Forget what kmemleak found before the suite; at its end, a scan that sees all.

    kmemleak reports objects over 5 s old: the per-test scans miss the last
    test's leaks, this one waits for them.
    """
    _step(kjudge.begin_marker, "kmemleak first scan")
    guestkit.kmemleak_scan()  # boot's own reports are not ours
    _step(kjudge.end_marker, "kmemleak first scan")
    yield
    if KMEMLEAK_SCANS[0]:
        figures.record(
            "kmemleak scans", f"{KMEMLEAK_SCANS[0]} in {KMEMLEAK_SCANS[1]:.0f} s (after each test)"
        )
    if guestkit.KMEMLEAK.exists():
        time.sleep(KMEMLEAK_MIN_AGE)
        found = guestkit.kmemleak_scan()
        if found:
            pytest.fail(f"kmemleak at the end of the suite:\n{found}", pytrace=False)


KMEMLEAK_MIN_AGE = 5.5  # seconds: mm/kmemleak.c's MSECS_MIN_AGE and a margin
KMEMLEAK_SCANS = [0, 0.0]  # scans after tests, seconds they took


def _kmemleak_after_test() -> str:
    if not guestkit.KMEMLEAK.exists():
        return ""
    start = time.monotonic()
    found = guestkit.kmemleak_scan()
    KMEMLEAK_SCANS[0] += 1
    KMEMLEAK_SCANS[1] += time.monotonic() - start
    return found


@pytest.fixture
def masterdev_state() -> Iterator[None]:
    """Tests that change geometry or limits leave them as they found them."""
    with md.preserved():
        yield


@pytest.fixture
def door(module_paths: dict[str, Path]) -> Iterator[himem.Door]:
    """allocator.ko and /dev/himem (himemtest.ko) for one test, unloaded after."""
    with (
        himem.loaded(module_paths["allocator"]),
        himem.loaded(module_paths["himemtest"]),
        himem.Door() as opened,
    ):
        yield opened


@pytest.fixture(autouse=True)
def kernel_log_judge(request: pytest.FixtureRequest) -> Iterator[guestkit.Kmsg]:
    expect: set[str] = set()
    for mark in request.node.iter_markers("kernel_expect"):
        expect.update(mark.args)
    name = request.node.nodeid
    with guestkit.kmsg_reader() as kmsg:
        taint_before = guestkit.taint()
        debug_before = guestkit.debug_state()
        guestkit.kmsg_write(kjudge.begin_marker(name, expect))
        yield kmsg
        leaks = "" if "kmemleak" in expect else _kmemleak_after_test()
        guestkit.kmsg_write(kjudge.end_marker(name))
        kmsg.read()
    verdict = kjudge.judge(kjudge.parse_kmsg(kmsg.seen))
    allowed = kjudge.ALLOWED_TAINT | (kjudge.TAINT_WARN if "WARNING" in expect else 0)
    raised = kjudge.new_taint(taint_before, guestkit.taint(), allowed)
    problems = []
    if not verdict.ok:
        problems.append(verdict.report())
    if raised:
        problems.append(f"kernel taint raised during the test: {raised}")
    problems += guestkit.debug_state().problems_since(debug_before, frozenset(expect))
    if leaks:
        problems.append(f"kmemleak (objects over 5 s old, maybe from an earlier test):\n{leaks}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
