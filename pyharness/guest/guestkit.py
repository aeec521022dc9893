"""Helpers for code that runs inside the guest: kernel log, taint, modules.

Standard library and the harness's runner only: the guest runs the
project's venv over a read-only root, and these helpers must work before
anything else is known to.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import mmap
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import uapi
from ..model.plan import ModuleOp
from ..runner import sbin

TAINTED = Path("/proc/sys/kernel/tainted")
CLOCKSOURCE = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")


KMEMLEAK = Path("/sys/kernel/debug/kmemleak")
DMA_API_ERRORS = Path("/sys/kernel/debug/dma-api/error_count")
LOCKDEP_STATS = Path("/proc/lockdep_stats")


@dataclass(frozen=True)
class DebugState:
    """What the debug kernel's checkers say, read around each test.

    None where the running kernel lacks the checker (Debian's kernels lack all).
    dma_api_errors is DMA-API debugging's error count (it prints only the
    first reports); debug_locks drops to 0 when lockdep has reported and
    switched itself off.
    """

    dma_api_errors: int | None
    debug_locks: int | None

    def problems_since(self, before: DebugState, expect: frozenset[str] = frozenset()) -> list[str]:
        """What changed since before; a test that expects "lockdep" may switch it off."""
        found = []
        if self.dma_api_errors is not None and self.dma_api_errors != before.dma_api_errors:
            found.append(
                f"DMA-API debugging counted {self.dma_api_errors - (before.dma_api_errors or 0)}"
                " new errors (/sys/kernel/debug/dma-api/error_count)"
            )
        if before.debug_locks == 1 and self.debug_locks == 0 and "lockdep" not in expect:
            found.append("lockdep switched itself off (debug_locks 1 -> 0): it found a bug")
        return found


def debug_state() -> DebugState:
    errors = int(DMA_API_ERRORS.read_text()) if DMA_API_ERRORS.exists() else None
    locks = None
    if LOCKDEP_STATS.exists():
        for line in LOCKDEP_STATS.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "debug_locks":
                locks = int(value)
    return DebugState(errors, locks)


def kmemleak_scan() -> str:
    """Scan now; return the leak reports not yet seen ("" when none or no kmemleak).

    kmemleak reports an object only once it is 5 s old (MSECS_MIN_AGE), so a
    leak of the last seconds shows in a later scan.  Reports are cleared after
    reading so each is returned once.
    """
    if not KMEMLEAK.exists():
        return ""
    KMEMLEAK.write_text("scan")
    found = KMEMLEAK.read_text()
    if found:
        KMEMLEAK.write_text("clear")
    return found


def taint() -> int:
    return int(TAINTED.read_text())


def kmsg_write(message: str) -> None:
    """Put a line into the kernel log (markers that split it by test)."""
    with open("/dev/kmsg", "w") as kmsg:
        kmsg.write(message.replace("\n", " ") + "\n")


class Kmsg:
    """Reader of /dev/kmsg records logged after it was opened (or all, with since_boot)."""

    def __init__(self, since_boot: bool = False) -> None:
        self.seen: list[str] = []  # every record read so far, for the judge
        self._fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        if not since_boot:
            os.lseek(self._fd, 0, os.SEEK_END)

    def read(self) -> list[str]:
        """Records logged since the last read."""
        records = self._drain()
        self.seen.extend(records)
        return records

    def _drain(self) -> list[str]:
        records: list[str] = []
        while True:
            try:
                data = os.read(self._fd, 8192)
            except BlockingIOError:
                return records
            except OSError as err:
                if err.errno == errno.EPIPE:  # overwritten before we read it: keep going
                    continue
                raise
            if not data:
                return records
            records.append(data.decode("utf-8", errors="replace"))

    def close(self) -> None:
        os.close(self._fd)


@contextlib.contextmanager
def kmsg_reader(since_boot: bool = False) -> Iterator[Kmsg]:
    reader = Kmsg(since_boot)
    try:
        yield reader
    finally:
        reader.close()


def _module_op(action: str, module: str, argv: list[str], params: tuple[str, ...]) -> ModuleOp:
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return ModuleOp(
        action,
        module,
        params,
        proc.returncode,
        (proc.stdout + proc.stderr).strip(),
        time.monotonic() - start,
    )


def insmod(ko: Path, *params: str) -> ModuleOp:
    return _module_op("insmod", ko.stem, [sbin("insmod") or "insmod", str(ko), *params], params)


def rmmod(name: str) -> ModuleOp:
    return _module_op("rmmod", name, [sbin("rmmod") or "rmmod", name], ())


def loaded(name: str) -> bool:
    return Path("/sys/module", name, "initstate").exists()


def kill_and_reap(child: subprocess.Popen[bytes], sig: int, seconds: float = 10.0) -> bool:
    """Send sig to child and wait for it to exit; False (and SIGKILL) if it
    did not within seconds."""
    os.kill(child.pid, sig)
    try:
        child.wait(seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return False
    return True


@contextlib.contextmanager
def signals_every(seconds: float) -> Iterator[None]:
    """SIGALRM every seconds until the block ends, to a handler that does nothing.

    A blocking system call made through ctypes meanwhile comes back with
    EINTR, or with what it did so far, as under a program's interval timer:
    Python installs its handlers without SA_RESTART.  Python's own os.*
    calls retry instead (PEP 475).  The timer repeats, so a call that starts
    waiting just after one signal is still ended by the next.  For the main
    thread, where Python runs its handlers.
    """
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, seconds, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Stall:
    """Pages whose first touch, by user space or by the kernel's copies,
    waits on a userfaultfd that never answers: until the block ends."""

    address: int
    size: int
    uffd: int

    def wait_for_fault(self, timeout: float = 60.0) -> None:
        """Until something waits in a fault on the pages; TimeoutError."""
        poller = select.poll()
        poller.register(self.uffd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise TimeoutError(f"no fault on the stalled pages in {timeout} s")


@contextlib.contextmanager
def stalled_pages(pages: int = 1) -> Iterator[Stall]:
    """An anonymous mapping of pages registered with a userfaultfd (missing
    pages) that nobody serves; closing it at the end lets every waiting
    fault go on (the pages are then filled with zeros).  Needs
    CONFIG_USERFAULTFD and root (kernel-mode faults too); OSError otherwise.
    """
    ffi, lib = uapi.ffi(), uapi.lib()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = pages * mmap.PAGESIZE
    uffd = libc.syscall(lib.__NR_userfaultfd, os.O_CLOEXEC | os.O_NONBLOCK)
    if uffd < 0:
        raise OSError(ctypes.get_errno(), "userfaultfd")
    address = None
    try:
        api = ffi.new("struct uffdio_api *", {"api": lib.UFFD_API})
        fcntl.ioctl(uffd, lib.UFFDIO_API, ffi.buffer(api), True)
        address = libc.mmap(
            None,
            size,
            mmap.PROT_READ | mmap.PROT_WRITE,
            mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
            -1,
            0,
        )
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap")
        register = ffi.new(
            "struct uffdio_register *",
            {"range": {"start": address, "len": size}, "mode": lib.UFFDIO_REGISTER_MODE_MISSING},
        )
        fcntl.ioctl(uffd, lib.UFFDIO_REGISTER, ffi.buffer(register), True)
        yield Stall(address, size, uffd)
    finally:
        os.close(uffd)
        if address not in (None, ctypes.c_void_p(-1).value):
            libc.munmap(address, size)
