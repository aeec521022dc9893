"""pyharness.host.lanes: parallel commands with their own logs (what `invoke test -j` runs)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from pyharness.host import lanes, profiles


def _lane(tmp_path: Path, name: str, code: str) -> lanes.Lane:
    return lanes.Lane(name, [sys.executable, "-c", code], tmp_path / f"{name}.log")


def test_lanes_run_side_by_side_and_print_reports_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each lane waits until the other has started: one after the other, both fail.
    code = (
        "import os, time; print('booting'); open('{me}', 'w').close(); "
        "end = time.monotonic() + 30\n"
        "while not os.path.exists('{other}') and time.monotonic() < end: time.sleep(0.05)\n"
        "print('masterdma vm-test report'); print('result PASS {i}'); "
        "raise SystemExit(0 if os.path.exists('{other}') else 1)"
    )
    flags = [tmp_path / "started0", tmp_path / "started1"]
    batch = [
        _lane(tmp_path, f"l{i}", code.format(me=flags[i], other=flags[1 - i], i=i))
        for i in range(2)
    ]
    lanes.run_lanes(batch, 2, tmp_path)
    assert all(lane.ok for lane in batch)
    out = capsys.readouterr().out
    for i in range(2):
        assert f"lane l{i}: ok" in out and f"result PASS {i}" in out
    assert "booting" not in out  # a passing lane shows its report, not its whole log


def test_a_failed_lane_shows_its_whole_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = [_lane(tmp_path, "bad", "print('the guest said why'); raise SystemExit(3)")]
    lanes.run_lanes(batch, 1, tmp_path)
    assert batch[0].returncode == 3
    out = capsys.readouterr().out
    assert "lane bad: FAIL (exit 3)" in out and "the guest said why" in out
    assert "the guest said why" in (tmp_path / "bad.log").read_text()


def test_jobs_bound_how_many_run_at_once(tmp_path: Path) -> None:
    marker = tmp_path / "running"
    marker.mkdir()
    code = (
        "import os, time, sys; d = sys.argv[1]; p = os.path.join(d, str(os.getpid())); "
        "open(p, 'w').close(); n = len(os.listdir(d)); time.sleep(0.3); os.remove(p); "
        "raise SystemExit(0 if n <= 2 else 1)"
    )
    batch = [
        lanes.Lane(f"l{i}", [sys.executable, "-c", code, str(marker)], tmp_path / f"{i}.log")
        for i in range(5)
    ]
    lanes.run_lanes(batch, 2, tmp_path)
    assert all(lane.ok for lane in batch)


@pytest.mark.parametrize("reserved", [1, 5])
def test_reserved_cores_run_fewer_lanes_but_never_none(tmp_path: Path, reserved: int) -> None:
    # invoke test's host stages beside the lanes take one core of two
    marker = tmp_path / "running"
    marker.mkdir()
    code = (
        "import os, time, sys; d = sys.argv[1]; p = os.path.join(d, str(os.getpid())); "
        "open(p, 'w').close(); time.sleep(0.6); n = len(os.listdir(d)); os.remove(p); "
        "raise SystemExit(0 if n == 1 else 1)"
    )
    batch = [
        lanes.Lane(f"l{i}", [sys.executable, "-c", code, str(marker)], tmp_path / f"{i}.log")
        for i in range(3)
    ]
    lanes.run_lanes(batch, 2, tmp_path, reserved=lambda: reserved)
    assert all(lane.ok for lane in batch)


def test_a_stop_from_another_thread_stops_the_running_lanes(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    code = f"import os, time; open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(60)"
    batch = [_lane(tmp_path, f"l{i}", code) for i in range(3)]
    stop = threading.Event()
    runner = threading.Thread(
        target=lanes.run_lanes, args=(batch, 2, tmp_path), kwargs={"stop": stop}
    )
    runner.start()
    threading.Timer(1.0, stop.set).start()
    runner.join(lanes.GRACE_SECONDS + 10)
    assert not runner.is_alive()
    started = pids.read_text().split()
    assert len(started) == 2  # the third never starts
    for pid in started:
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


def test_an_interrupt_stops_every_running_lane(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    code = f"import os, time; open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(60)"
    batch = [_lane(tmp_path, f"l{i}", code) for i in range(2)]
    # Python ignores SIGINT when started in the background by a shell (as CI
    # may start it): install its handler, as tasks.py turns SIGTERM into one.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            lanes.run_lanes(batch, 2, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    for pid in pids.read_text().split():
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


def test_longest_lanes_start_first_and_equal_ones_keep_their_order(tmp_path: Path) -> None:
    # The matrix order (kernel by kernel) would leave 6.12's long lane alone at the end.
    batch = [
        lanes.Lane(name, ["true"], tmp_path / f"{name}.log", minutes=minutes)
        for name, minutes in (("a-plain", 20), ("a-partial", 2), ("b-plain", 20), ("b-iommu", 14))
    ]
    assert [lane.name for lane in lanes.longest_first(batch)] == [
        "a-plain",
        "b-plain",
        "b-iommu",
        "a-partial",
    ]


def test_the_matrix_ends_near_its_total_over_two_when_run_longest_first() -> None:
    # The profiles' own estimates, two guests at once: longest first ends within
    # one short lane of the ideal, where the matrix's own order did not.
    def makespan(order: list[float]) -> float:
        ends = [0.0, 0.0]
        for minutes in order:
            ends[ends.index(min(ends))] += minutes
        return max(ends)

    names = ("plain", "bounce", "iommu", "himem", "users", "partial")
    matrix = [profiles.get(p).lane_minutes for _ in ("6.1", "6.12") for p in names]
    ideal = sum(matrix) / 2
    assert makespan(sorted(matrix, reverse=True)) <= ideal + min(matrix)
    assert makespan(matrix) > makespan(sorted(matrix, reverse=True))
