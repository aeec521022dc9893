"""Fixtures of the VM suite: it runs inside the guest, as root, with the modules loaded.

Every test is judged by the kernel log: the autouse fixture brackets it with
markers in /dev/kmsg, reads what the kernel said meanwhile and fails the test
on any report (oops, BUG, WARNING, KASAN...), any message at err level or
worse, or new taint beyond O/E.  A test that provokes a report on purpose
says so with ``@pytest.mark.kernel_expect("WARNING")`` (or ``"error"``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyharness import figures, guestkit, himem, kjudge
from pyharness import masterdev as md
from pyharness.guest import Plan


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
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
        guestkit.kmsg_write(kjudge.begin_marker(name, expect))
        yield kmsg
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
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
