"""Build the kernel modules with kbuild against one KernelTree.

The sources are mirrored to build/<release>/kmod so that several kernels keep
their objects side by side and the source tree stays clean.  The mirror only
rewrites a file whose bytes changed, so kbuild's own dependency tracking
recompiles what changed (sources, headers, the kernel's config, the command
line) and nothing else.  W=1 always; sparse (C=2) on request.  A compiler or
sparse warning is an error: the BuildError carries the output.

The harness builds test builds (MASTERDMA_TEST=1: the modules' test hooks,
in build/<release>/kmod); check_production() builds what users build (plain
`make`, in build/<release>/kmod-production) and proves no hook is in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config import Paths
from ..errors import BuildError, CommandError
from ..runner import announce, run
from .kernels import KernelTree

# What kbuild writes next to the sources; never mirrored, never pruned.
# kmod/Makefile's clean removes the same list (a host test compares them).
PRODUCTS = (
    "*.o",
    "*.ko",
    "*.mod",
    "*.mod.c",
    ".*.cmd",
    "*.order",
    "*.symvers",
    ".*.d",
    "*.dwo",
    ".*.o.d",
    "*.a",
    "*.tmp",
    "himemlink/allocator_core.c",  # copied by kbuild: himemlink links the allocator in
    "himemlink/allocator_test.c",
)
STAMP = ".masterdma-built"  # in the build copy: the digest of the last clean build
WARNING = re.compile(r"^(?P<file>[^:\s]+):\d+(?::\d+)?: (?:warning|error): ", re.M)


@dataclass(frozen=True)
class BuildResult:
    """The modules of one build, and where its output was saved."""

    kernel: KernelTree
    directory: Path
    modules: dict[str, Path]  # module name -> .ko
    log: Path


# What marks a test hook in a .ko (kmod/*/*_test.[ch]): its parameters and symbols.
TEST_PARAMS = re.compile(r"test_\w+|inject_warn")  # knobs: test_layout_bug, test_fail_nth...
TEST_MODULES = (  # whole test-only modules
    "himemtest",
    "himemclient",
    "masterbench",
    "mdma_example",
    "allocator_example",
)
TEST_SYMBOL = re.compile(r"_test_|corrupt|master_fail")


def build_dir_for(kernel: KernelTree, paths: Paths, test_build: bool = True) -> Path:
    return paths.build / kernel.release / ("kmod" if test_build else "kmod-production")


def _is_product(path: Path) -> bool:
    return any(path.match(pattern) for pattern in PRODUCTS)


def sync_sources(src: Path, dest: Path) -> list[str]:
    """Mirror src's sources into dest; return the relative paths that changed.

    An unchanged file keeps its mtime (kbuild then has nothing to do); a changed
    or new one is written, a vanished one removed, with the module it built.
    """
    changed = []
    wanted = {p.relative_to(src) for p in src.rglob("*") if p.is_file() and not _is_product(p)}
    for rel in sorted(wanted):
        target = dest / rel
        data = (src / rel).read_bytes()
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        changed.append(str(rel))
    if dest.exists():
        for old in sorted(dest.rglob("*")):
            rel = old.relative_to(dest)
            if (
                old.is_file()
                and not _is_product(old)
                and rel not in wanted
                and rel.name not in (".lock", STAMP)
            ):
                old.unlink()
                changed.append(f"{rel} (removed)")
        for ko in dest.rglob("*.ko"):  # a module whose sources are gone is not built any more
            if not any((src / ko.relative_to(dest).parent).glob("*.c")):
                ko.unlink()
    return changed


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One build per kernel at a time: concurrent runs would copy over each other."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(
    kernel: KernelTree,
    paths: Paths,
    *,
    sparse: bool = False,
    jobs: int = 2,
    test_build: bool = True,
) -> BuildResult:
    """Build every module of kmod/ against kernel; raise BuildError on error or warning.

    test_build: with the test hooks (MASTERDMA_TEST=1), as every VM run needs.
    """
    dest = build_dir_for(kernel, paths, test_build)
    with _locked(dest.parent):
        return _build(kernel, paths, dest, sparse=sparse, jobs=jobs, test_build=test_build)


def _build(
    kernel: KernelTree, paths: Paths, dest: Path, *, sparse: bool, jobs: int, test_build: bool
) -> BuildResult:
    changed = sync_sources(paths.kmod, dest)
    kind = "" if test_build else "production-"
    log = dest.parent / (f"{kind}sparse.log" if sparse else f"{kind}build.log")
    argv = ["make", f"-j{jobs}", "-C", str(kernel.build_dir), f"M={dest}", "W=1", "modules"]
    if test_build:
        argv.insert(-1, "MASTERDMA_TEST=1")
    if sparse:
        argv.insert(-1, "C=2")
    what = "test build" if test_build else "production build"
    stamp, digest = dest / STAMP, _digest(kernel, dest, argv)
    modules = built_modules(dest)
    order = dest / "modules.order"
    listed = len(order.read_text().split()) if order.is_file() else -1
    if not sparse and len(modules) == listed and stamp.is_file() and stamp.read_text() == digest:
        # the same sources, kernel and options as the last clean build: every
        # lane of `invoke test` reuses the one build, without a make per lane
        announce(f"modules built already against {kernel.release} ({what}): {', '.join(modules)}")
        return BuildResult(kernel, dest, modules, log)
    stamp.unlink(missing_ok=True)  # an interrupted or failed make leaves none
    sparse_note = " with sparse" if sparse else ""
    announce(f"building modules against {kernel.release} ({what}){sparse_note}")
    started = time.time()
    try:
        done = run(argv, log=log, echo=False)
    except CommandError as err:
        raise BuildError(
            f"kbuild failed against {kernel.release} (log: {log})", err.output
        ) from err
    warnings = [m.group(0) for m in WARNING.finditer(done.output)]
    if warnings:
        # Objects built with a warning must not count as up to date next time.
        shutil.rmtree(dest)
        raise BuildError(
            f"{len(warnings)} warning(s) building against {kernel.release} (log: {log})",
            _relative(done.output, dest, paths.kmod),
        )
    modules = built_modules(dest)
    if not modules:
        raise BuildError(f"kbuild produced no module (log: {log})", done.output)
    if not sparse:  # a sparse build's objects are the same; its stamp would skip the check
        stamp.write_text(digest)
    rebuilt = sorted(p.stem for p in dest.rglob("*.ko") if p.stat().st_mtime >= started)
    if rebuilt:
        what = f"{len(changed)} source file(s) changed" if changed else "kernel or options changed"
        announce(f"built {', '.join(rebuilt)} in {done.seconds:.1f} s ({what})")
    else:
        checked = f"; sparse checked every source (log: {log})" if sparse else ""
        announce(f"modules up to date ({', '.join(modules)}): nothing recompiled{checked}")
    return BuildResult(kernel, dest, modules, log)


def _digest(kernel: KernelTree, dest: Path, argv: list[str]) -> str:
    """What a build depends on: the mirrored sources, the kernel's build tree
    (its path, release and .config) and the make command line."""
    digest = hashlib.sha256("\0".join([*argv, kernel.release]).encode())
    for name in (".config", "include/config/kernel.release", "Module.symvers"):
        config = kernel.build_dir / name
        digest.update(config.read_bytes() if config.is_file() else b"-")
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and not _is_product(p)):
        if path.name not in (".lock", STAMP):
            digest.update(str(path.relative_to(dest)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def built_modules(dest: Path) -> dict[str, Path]:
    """The modules this build made, from kbuild's modules.order (a .ko left by an
    earlier build with other options is not one of them)."""
    order = dest / "modules.order"
    if not order.exists():
        return {}
    listed = [Path(line.strip()) for line in order.read_text().splitlines() if line.strip()]
    kos = [(p if p.is_absolute() else dest / p).with_suffix(".ko") for p in listed]
    return {ko.stem: ko for ko in kos if ko.exists()}


def _relative(output: str, copy: Path, source: Path) -> str:
    """Name the real source files in messages, not the build copy."""
    return output.replace(str(copy), str(source))


def test_hooks_in(ko: Path) -> list[str]:
    """The test hooks a module carries: its test parameters and symbols."""
    params = run(["modinfo", "-F", "parm", str(ko)], echo=False).output.splitlines()
    names = [p.split(":")[0] for p in params]
    found = [f"parameter {n}" for n in names if TEST_PARAMS.fullmatch(n)]
    symbols = run(["nm", str(ko)], echo=False).output.splitlines()
    defined = [line.split()[-1] for line in symbols if line.strip()]
    return found + [f"symbol {n}" for n in defined if TEST_SYMBOL.search(n)]


def check_production(kernel: KernelTree, paths: Paths) -> BuildResult:
    """Build what users build (no MASTERDMA_TEST) and fail if any test hook is in
    it; the test build must have them, or the check would prove nothing."""
    production = build(kernel, paths, test_build=False)
    leaks = {name: hooks for name, ko in production.modules.items() if (hooks := test_hooks_in(ko))}
    leaks |= {name: ["a test module"] for name in TEST_MODULES if name in production.modules}
    if leaks:
        raise BuildError(
            f"test hooks in the production build against {kernel.release}",
            "\n".join(f"{name}: {', '.join(hooks)}" for name, hooks in leaks.items()),
        )
    tested = build(kernel, paths)
    carried = {name for name, ko in tested.modules.items() if test_hooks_in(ko)}
    if not {"mdma", "masterdev"} <= carried or not set(TEST_MODULES) <= set(tested.modules):
        raise BuildError(
            "the test build carries no test hooks: the production check would prove nothing",
            f"modules with hooks: {sorted(carried)}",
        )
    announce(f"production build against {kernel.release}: no test hook in any module")
    return production
