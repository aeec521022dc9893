"""Every way a process reaches a shared mapping, tried on one mapping.

Ring mappings and /dev/himem mappings must behave like ordinary shared
device mappings: each madvise advice, mprotect, mremap,
partial munmap, fork, process_vm_readv, /proc/<pid>/mem and ptrace peeks
either work with the memory's real bytes or fail with an errno at the call,
never a signal on a later access.  survey() runs each case in a forked child
(a SIGBUS kills the child, not pytest) and returns one Outcome per case; the
host tests run it on anonymous shared memory, the guest tests on our
mappings.  Linux syscalls through ctypes: madvise(2), mprotect(2),
mremap(2), process_vm_readv(2), ptrace(2).
"""

from __future__ import annotations

import ctypes
import errno
import faulthandler
import mmap
import os
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..model.compare import difference

PAGE = mmap.PAGESIZE
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
LIBC.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
LIBC.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
LIBC.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
LIBC.mremap.restype = ctypes.c_void_p
LIBC.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
LIBC.ptrace.restype = ctypes.c_long
MAP_FAILED = ctypes.c_void_p(-1).value
MREMAP_MAYMOVE = 1
PTRACE_PEEKDATA, PTRACE_ATTACH, PTRACE_DETACH = 2, 16, 17

# madvise(2) advice values (uapi/asm-generic/mman-common.h), all but
# MADV_HWPOISON and MADV_SOFT_OFFLINE, which damage the page on purpose.
ADVICE = {
    "normal": 0,
    "random": 1,
    "sequential": 2,
    "willneed": 3,
    "dontneed": 4,
    "free": 8,
    "remove": 9,
    "dontfork": 10,
    "dofork": 11,
    "mergeable": 12,
    "unmergeable": 13,
    "hugepage": 14,
    "nohugepage": 15,
    "dontdump": 16,
    "dodump": 17,
    "wipeonfork": 18,
    "keeponfork": 19,
    "cold": 20,
    "pageout": 21,
    "populate_read": 22,
    "populate_write": 23,
    "dontneed_locked": 24,
    "collapse": 25,
}
# What the kernel may answer a case it refuses: the call's documented errnos.
REFUSALS = {
    errno.EINVAL,
    errno.EFAULT,
    errno.EOPNOTSUPP,
    errno.ENODEV,  # MADV_REMOVE: no fallocate on a character device
    errno.EPERM,
    errno.EIO,
    errno.ENOMEM,
}
_KEEP: list[mmap.mmap] = []  # a child's mappings, alive until it exits


@dataclass(frozen=True)
class Outcome:
    """One case: "ok" (the real bytes), "errno ENAME" (refused at the call),
    "signal SIGBUS" (the defect) or "wrong bytes: ..." (compare.difference())."""

    case: str
    result: str

    @property
    def acceptable(self) -> bool:
        if self.result == "ok":
            return True
        name = self.result.removeprefix("errno ")
        return self.result.startswith("errno ") and getattr(errno, name, None) in REFUSALS


def address(mapped: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(mapped))


def _check(ok: int) -> None:
    if ok == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _first_difference(got: bytes, want: bytes) -> str:
    found = difference(got, want)
    return "ok" if found is None else f"wrong bytes: {found}"


def _at(base: int, length: int) -> bytes:
    return ctypes.string_at(base, length)


def _case_madvise(advice: int) -> Callable[[int, bytes], str]:
    def run(base: int, want: bytes) -> str:
        _check(LIBC.madvise(base, len(want), advice))
        return _first_difference(_at(base, len(want)), want)

    return run


def _case_mprotect(base: int, want: bytes) -> str:
    _check(LIBC.mprotect(base, len(want), mmap.PROT_READ))
    seen = _at(base, len(want))
    _check(LIBC.mprotect(base, len(want), mmap.PROT_READ | mmap.PROT_WRITE))
    ctypes.memmove(base, want, len(want))  # writable again, same bytes
    return _first_difference(seen, want)


def _case_mremap_move(base: int, want: bytes) -> str:
    moved = LIBC.mremap(base, len(want), len(want), MREMAP_MAYMOVE)
    if moved in (None, MAP_FAILED):
        _check(-1)
    return _first_difference(_at(moved, len(want)), want)


def _case_mremap_grow(base: int, want: bytes) -> str:
    moved = LIBC.mremap(base, len(want), len(want) + PAGE, MREMAP_MAYMOVE)
    if moved in (None, MAP_FAILED):
        _check(-1)
    return _first_difference(_at(moved, len(want)), want)


def _case_partial_munmap(base: int, want: bytes) -> str:
    if len(want) < 2 * PAGE:
        return "ok"
    _check(LIBC.munmap(base, PAGE))
    return _first_difference(_at(base + PAGE, len(want) - PAGE), want[PAGE:])


def _case_fork(base: int, want: bytes) -> str:
    return _in_child(lambda: _first_difference(_at(base, len(want)), want))


def _case_proc_mem(base: int, want: bytes) -> str:
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        return _first_difference(os.pread(fd, len(want), base), want)
    finally:
        os.close(fd)


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _case_process_vm_readv(base: int, want: bytes) -> str:
    buf = ctypes.create_string_buffer(len(want))
    local = _Iovec(ctypes.cast(buf, ctypes.c_void_p), len(want))
    remote = _Iovec(base, len(want))
    got = LIBC.process_vm_readv(
        os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, ctypes.c_ulong(0)
    )
    _check(got)
    return _first_difference(buf.raw[:got], want)


def _case_ptrace_peek(base: int, want: bytes) -> str:
    """Attach to a forked twin (same addresses) and peek every word."""
    child = os.fork()
    if child == 0:
        signal.pause()
        os._exit(0)
    try:
        _check(LIBC.ptrace(PTRACE_ATTACH, child, None, None))
        os.waitpid(child, 0)
        words = []
        for offset in range(0, len(want), 8):
            ctypes.set_errno(0)
            word = LIBC.ptrace(PTRACE_PEEKDATA, child, ctypes.c_void_p(base + offset), None)
            if ctypes.get_errno():
                _check(-1)
            words.append(struct.pack("<q", word))
        LIBC.ptrace(PTRACE_DETACH, child, None, None)
        return _first_difference(b"".join(words)[: len(want)], want)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


CASES: dict[str, Callable[[int, bytes], str]] = {
    **{f"madvise {name}": _case_madvise(value) for name, value in ADVICE.items()},
    "mprotect": _case_mprotect,
    "mremap move": _case_mremap_move,
    "mremap grow": _case_mremap_grow,
    "partial munmap": _case_partial_munmap,
    "fork": _case_fork,
    "/proc/self/mem": _case_proc_mem,
    "process_vm_readv": _case_process_vm_readv,
    "ptrace peek": _case_ptrace_peek,
}


def _in_child(action: Callable[[], str]) -> str:
    """action() in a forked child; its answer, or the signal that killed it."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        faulthandler.disable()  # a signal is the answer here, not a crash to dump
        try:
            answer = action()
        except OSError as err:
            answer = f"errno {errno.errorcode.get(err.errno or 0, err.errno)}"
        except BaseException as err:
            answer = f"error {err!r}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode()
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return answer or f"child exited {os.WEXITSTATUS(status)} without an answer"


def survey(mapping: Callable[[], tuple[mmap.mmap, bytes]]) -> list[Outcome]:
    """Each case in a child of its own, on a mapping that mapping() makes there.

    mapping() runs in the child, maps the memory, fills it and returns the
    mapping and the bytes it must hold; a case may change the child's mapping
    at will (the child never unmaps it: it ends with os._exit), its parent's
    stays as it was.
    """

    def one(case: Callable[[int, bytes], str]) -> Callable[[], str]:
        def run() -> str:
            mapped, want = mapping()
            _KEEP.append(mapped)
            return case(address(mapped), want)

        return run

    return [Outcome(name, _in_child(one(case))) for name, case in CASES.items()]
