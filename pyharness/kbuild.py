"""Build the kernel modules with kbuild against one KernelTree.

The sources are copied to build/<release>/kmod so that several kernels keep
their objects side by side and the source tree stays clean.  W=1 always;
sparse (C=2) on request.  A compiler or sparse warning is an error: the
BuildError carries the output.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Paths
from .errors import BuildError, CommandError
from .kernels import KernelTree
from .runner import announce, run

SOURCE_PATTERNS = ("*.c", "*.h", "Kbuild", "Makefile", "dkms.conf")
WARNING = re.compile(r"^(?P<file>[^:\s]+):\d+(?::\d+)?: (?:warning|error): ", re.M)


@dataclass(frozen=True)
class BuildResult:
    """The modules of one build, and where its output was saved."""

    kernel: KernelTree
    directory: Path
    modules: dict[str, Path]  # module name -> .ko
    log: Path


def build_dir_for(kernel: KernelTree, paths: Paths) -> Path:
    return paths.build / kernel.release / "kmod"


def copy_sources(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    keep = shutil.ignore_patterns("*.o", "*.ko", "*.mod*", ".*.cmd", "*.order", "*.symvers")
    shutil.copytree(src, dest, ignore=keep)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One build per kernel at a time: concurrent runs would copy over each other."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(kernel: KernelTree, paths: Paths, *, sparse: bool = False, jobs: int = 2) -> BuildResult:
    """Build every module of kmod/ against kernel; raise BuildError on error or warning."""
    dest = build_dir_for(kernel, paths)
    with _locked(dest.parent):
        return _build(kernel, paths, dest, sparse, jobs)


def _build(kernel: KernelTree, paths: Paths, dest: Path, sparse: bool, jobs: int) -> BuildResult:
    copy_sources(paths.kmod, dest)
    log = dest.parent / ("sparse.log" if sparse else "build.log")
    argv = ["make", f"-j{jobs}", "-C", str(kernel.build_dir), f"M={dest}", "W=1", "modules"]
    if sparse:
        argv.insert(-1, "C=2")
    announce(f"building modules against {kernel.release}{' with sparse' if sparse else ''}")
    try:
        done = run(argv, log=log, echo=False)
    except CommandError as err:
        raise BuildError(
            f"kbuild failed against {kernel.release} (log: {log})", err.output
        ) from err
    warnings = [m.group(0) for m in WARNING.finditer(done.output)]
    if warnings:
        raise BuildError(
            f"{len(warnings)} warning(s) building against {kernel.release} (log: {log})",
            _relative(done.output, dest, paths.kmod),
        )
    modules = {ko.stem: ko for ko in sorted(dest.rglob("*.ko"))}
    if not modules:
        raise BuildError(f"kbuild produced no module (log: {log})", done.output)
    announce(f"built {', '.join(modules)} in {done.seconds:.1f} s")
    return BuildResult(kernel, dest, modules, log)


def _relative(output: str, copy: Path, source: Path) -> str:
    """Name the real source files in messages, not the build copy."""
    return output.replace(str(copy), str(source))
