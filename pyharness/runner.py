"""The one way the harness runs a command.

Every command is an argv list, printed with shlex.join() before it runs.  Its
output can be echoed, saved to a log file and returned; a timeout kills the
whole process group (vng starts qemu, qemu must not outlive it).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .errors import CommandError


@dataclass(frozen=True)
class Completed:
    """What a finished command left behind."""

    argv: list[str]
    returncode: int | None  # None: killed by the timeout
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def sbin(tool: str) -> str | None:
    """A tool that lives in /sbin, which a normal user's PATH may lack."""
    for candidate in (shutil.which(tool), f"/usr/sbin/{tool}", f"/sbin/{tool}"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def announce(message: str, stream: TextIO | None = None) -> None:
    """Print a progress line of the harness itself."""
    print(f"==> {message}", file=stream or sys.stderr, flush=True)


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log: Path | None = None,
    echo: bool | Callable[[str], str] = True,
    check: bool = True,
    inherit: bool = False,
    show: bool = True,
) -> Completed:
    """Run argv; echo its output (or what echo(line) keeps of each line); raise
    CommandError if check is set and it fails or times out.

    inherit=True hands the terminal to the command (apt's own progress bar) and
    captures nothing; show=False does not print the command line (a query).
    """
    args = [os.fspath(a) for a in argv]
    if show:
        print(f"$ {shlex.join(args)}", file=sys.stderr, flush=True)
    full_env = {**os.environ, **env} if env else None
    start = time.monotonic()
    if inherit:
        proc = subprocess.Popen(args, cwd=cwd, env=full_env, start_new_session=True)
        with _group_dies_on_interrupt(proc):
            returncode = _wait(proc, timeout)
        return _finish(args, returncode, "", start, check)
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    chunks: list[str] = []
    reader = threading.Thread(target=_pump, args=(proc, chunks, log, echo), daemon=True)
    with _group_dies_on_interrupt(proc):
        reader.start()
        returncode = _wait(proc, timeout)
        reader.join()
    return _finish(args, returncode, "".join(chunks), start, check)


def _pump(
    proc: subprocess.Popen[bytes],
    chunks: list[str],
    log: Path | None,
    echo: bool | Callable[[str], str],
) -> None:
    assert proc.stdout is not None
    logf = log.open("w", encoding="utf-8", errors="replace") if log else None
    try:
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            chunks.append(line)
            if logf:
                logf.write(line)
                logf.flush()
            shown = echo(line) if callable(echo) else (line if echo else "")
            if shown:
                sys.stdout.write(shown)
                sys.stdout.flush()
    finally:
        if logf:
            logf.close()


@contextlib.contextmanager
def _group_dies_on_interrupt(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Ctrl-C or SIGTERM (tasks.py raises KeyboardInterrupt for it) anywhere
    after the spawn, not only inside wait(), kills the command's group: the
    signal can land while the reader thread starts (seen under load)."""
    try:
        yield
    except BaseException:
        _kill_group(proc)
        raise


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def _finish(
    argv: list[str], returncode: int | None, output: str, start: float, check: bool
) -> Completed:
    done = Completed(argv, returncode, output, time.monotonic() - start)
    if check and not done.ok:
        raise CommandError(argv, returncode, output)
    return done
