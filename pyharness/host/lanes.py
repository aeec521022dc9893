"""Independent commands run side by side, each with its own log: `invoke test -j N`.

A TCG guest runs in one host thread, so on a 2-core machine two VM lanes at
once take about half the time of one after the other.  Each lane is a child
process in its own session whose whole output goes to its log file; when a
lane ends, its status and the tail of its output from ``REPORT_MARK`` on (its
report) are printed, or its whole log if it failed, so lanes never interleave
on the terminal.  Ctrl-C or SIGTERM stops every running lane the way they
stop themselves (SIGTERM to the child, which kills its guest), then SIGKILL
after ``GRACE_SECONDS``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..runner import announce

REPORT_MARK = "masterdma vm-test report"
GRACE_SECONDS = 30.0
POLL_SECONDS = 0.5


@dataclass
class Lane:
    """One command of the batch: its name, argv and log; status once it ran."""

    name: str
    argv: list[str]
    log: Path
    # Expected minutes, only to order the batch (longest first); 0: unknown.
    minutes: float = 0.0
    returncode: int | None = None
    seconds: float = 0.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _start: float = field(default=0.0, repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def start(self, cwd: Path) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                self.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._start = time.monotonic()

    def poll(self) -> bool:
        """True once the lane has ended (its returncode set)."""
        assert self._proc is not None
        code = self._proc.poll()
        if code is None:
            return False
        self.returncode = code
        self.seconds = time.monotonic() - self._start
        return True

    def stop(self) -> None:
        """SIGTERM the lane's group; SIGKILL it if it is still there after the grace."""
        if self._proc is None or self._proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self._proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self._proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def summary(self) -> str:
        """What to print when the lane ends: its report, or its whole log on failure."""
        text = self.log.read_text(errors="replace")
        status = "ok" if self.ok else f"FAIL (exit {self.returncode})"
        head = f"==> lane {self.name}: {status} in {self.seconds / 60:.1f} min; log: {self.log}"
        if self.ok and REPORT_MARK in text:
            text = text[text.index(REPORT_MARK) :]
        return f"{head}\n{text.rstrip()}\n"


def longest_first(lanes: Sequence[Lane]) -> list[Lane]:
    """The lanes by expected minutes, longest first, equal ones in their order.

    With jobs at a time, the batch ends when its last lane does; starting
    the long lanes first and filling the gaps with short ones (the LPT rule)
    keeps that end near the total divided by jobs, where the order of the
    matrix could leave one long lane running alone at the end.
    """
    return sorted(lanes, key=lambda lane: -lane.minutes)


def run_lanes(
    lanes: Sequence[Lane],
    jobs: int,
    cwd: Path,
    *,
    reserved: Callable[[], int] = lambda: 0,
    stop: threading.Event | None = None,
) -> None:
    """Run lanes, longest expected first, at most jobs at a time less what
    reserved() says other work of the caller takes (never fewer than one);
    print each as it ends.  Once stop is set, the running lanes are stopped
    and no other starts (for a caller that runs this in a thread)."""
    waiting = longest_first(lanes)
    running: list[Lane] = []
    try:
        while waiting or running:
            if stop is not None and stop.is_set():
                return
            while waiting and len(running) < max(1, jobs - reserved()):
                lane = waiting.pop(0)
                lane.start(cwd)
                announce(f"lane {lane.name} started (log: {lane.log})")
                running.append(lane)
            for lane in [lane for lane in running if lane.poll()]:
                running.remove(lane)
                print(lane.summary(), flush=True)
            time.sleep(POLL_SECONDS)
    finally:
        for lane in running:
            lane.stop()


class Beside:
    """The VM lanes in a thread while the caller's own stages run: those keep
    one core busy, so one lane fewer runs until done() is called."""

    def __init__(self, matrix: list[Lane], jobs: int, cwd: Path) -> None:
        self.matrix = matrix
        self.busy = threading.Event()
        self.busy.set()
        self.stop = threading.Event()
        kwargs = {"reserved": lambda: 1 if self.busy.is_set() else 0, "stop": self.stop}
        self.thread = threading.Thread(
            target=run_lanes, args=(matrix, jobs, cwd), kwargs=kwargs, daemon=True
        )
        announce(
            f"stage: {len(matrix)} VM lanes, {jobs} at a time (one while the host stages run), "
            f"longest first (logs: {matrix[0].log.parent})"
        )
        self.thread.start()

    def done(self) -> list[tuple[str, str]]:
        """Every lane run: the statuses (the caller's stages are over)."""
        self.busy.clear()
        while self.thread.is_alive():  # a timed join: Ctrl-C and SIGTERM still land here
            self.thread.join(1.0)
        return [(lane.name, "ok" if lane.ok else "FAIL") for lane in self.matrix]

    def cancel(self) -> None:
        self.stop.set()
        self.thread.join(GRACE_SECONDS + 10)
