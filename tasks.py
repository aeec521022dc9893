"""masterdma tasks: `invoke --list`, and `invoke --help TASK` for each task's flags."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invoke import Collection, Context, Exit, Task, task

from pyharness import uapi
from pyharness.config import Paths
from pyharness.errors import BuildError, HarnessError
from pyharness.host import (
    accel,
    benchrun,
    debugkernel,
    docs,
    kbuild,
    kernels,
    lanes,
    lava,
    lint,
    profiles,
    vmtest,
)
from pyharness.model import bench
from pyharness.runner import announce, run

PATHS = Paths.default()
KERNEL_HELP = (
    "'6.1', '6.12', an exact Debian ABI such as 6.1.0-47, 'debug' (the debug lane's "
    "KASAN/lockdep kernel, built on first use), 'host', or a build tree path"
)

# The only short flags, one meaning each in every task; every other flag is long only.
SHORT_FLAGS = {"kernel": "k", "profile": "p", "list_cached": "l", "cache": "c", "jobs": "j"}


class MasterTask(Task[Callable[..., None]]):
    """A task whose short flags come from SHORT_FLAGS and whose help shows defaults.

    Number arguments are taken as strings and checked by the task (`_seconds`), so
    that a bad value gets one line naming it instead of invoke's traceback.
    """

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        if name in SHORT_FLAGS:
            opts["names"].append(SHORT_FLAGS[name])
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            opts["kind"] = str
            opts["default"] = f"{default:g}"
        if default not in (None, "", False, True) and "help" in opts:
            opts["help"] += f" (default: {opts['default']})"
        return opts


def _task(**kwargs: Any) -> Callable[[Callable[..., None]], MasterTask]:
    return task(klass=MasterTask, auto_shortflags=False, **kwargs)


MAX_SECONDS = 86400.0


def _seconds(flag: str, text: str) -> float:
    """Seconds from the command line, 1 to a day, or a one-line error."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 1 <= value <= MAX_SECONDS:  # also refuses nan and inf
        raise Exit(
            f"error: {flag} {text!r}: give a number of seconds from 1 to {MAX_SECONDS:.0f}",
            code=2,
        )
    return value


def _choice(flag: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise Exit(f"error: {flag} {value!r}: choose one of {', '.join(choices)}", code=2)
    return value


def _count(flag: str, text: str) -> int:
    """A count of at least 1 from the command line, or a one-line error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise Exit(f"error: {flag} {text!r}: give a whole number of at least 1", code=2)
    return value


def _kernel(spec: str) -> str:
    """Check a kernel spec before any work (apt's lists, the cache); a one-line error."""
    if not spec.strip():
        raise Exit(f"error: --kernel {spec!r}: give {KERNEL_HELP}", code=2)
    try:
        kernels.check(spec, PATHS)
    except HarnessError as err:
        raise Exit(f"error: --kernel {spec!r}: {err}", code=2) from err
    return spec


@contextmanager
def _harness_errors() -> Iterator[None]:
    """Turn the harness's typed errors into a clear message and exit status 1."""
    try:
        yield
    except HarnessError as err:
        if isinstance(err, BuildError):
            print(err.output, file=sys.stderr)
        raise Exit(f"error: {err}", code=1) from err


@_task(help={"kernel": KERNEL_HELP})
def setup(c: Context, kernel: str = kernels.DEFAULT_KERNEL) -> None:
    """Fetch a kernel (85-124 MB) and the kernel source for checkpatch (~140 MB) ahead of use.

    Host packages and the venv come from `make bootstrap`.
    """
    _kernel(kernel)
    with _harness_errors():
        tree = kernels.resolve(kernel, PATHS)
        scripts = lint.kernel_scripts(PATHS)
    announce(f"ready: kernel {tree.release} in {tree.build_dir}; kernel scripts in {scripts}")


@_task(
    help={
        "kernel": KERNEL_HELP,
        "list_cached": "list the cached kernels and exit",
        "debug": "build the debug lane's kernel (same as --kernel debug)",
    }
)
def kernel(
    c: Context, kernel: str = kernels.DEFAULT_KERNEL, list_cached: bool = False, debug: bool = False
) -> None:
    """Fetch a Debian kernel into the cache (once, 85-124 MB) and print where it is.

    --debug builds the debug lane's kernel instead: Debian's linux-source-6.1 with
    KASAN, kmemleak, lockdep, DMA-API debugging, UBSAN and fault injection (about
    20 minutes on 2 cores, once; the same config reuses it).
    """
    if list_cached:
        cached = kernels.cached_kernels(PATHS)
        debug_built = debugkernel.cached(PATHS)
        if not cached and not debug_built:
            print(f"no kernel cached in {PATHS.kernels}; `invoke kernel -k 6.1` fetches one")
        for data in cached:
            print(f"{data['name']:<20} {data['release']:<28} {data['image']}")
        if debug_built:
            print(f"{'debug':<20} {debug_built['release']:<28} {debug_built['image']}")
        return
    spec = debugkernel.NAME if debug else _kernel(kernel)
    with _harness_errors():
        tree = kernels.resolve(spec, PATHS)
    for key, value in kernels.describe(tree).items():
        print(f"{key:<10} {value}")


@_task(help={"kernel": KERNEL_HELP, "sparse": "also run sparse (C=2)"})
def build(c: Context, kernel: str = kernels.DEFAULT_KERNEL, sparse: bool = False) -> None:
    """Build the modules with kbuild (W=1; a warning fails) against a kernel.

    Only what changed is recompiled (sources, kernel or options, as kbuild tracks them).
    """
    _kernel(kernel)
    with _harness_errors():
        result = kbuild.build(kernels.resolve(kernel, PATHS), PATHS, sparse=sparse)
    for name, path in result.modules.items():
        print(f"{name:<12} {path}")


VM_HELP = {
    "kernel": KERNEL_HELP,
    "profile": "VM profile: "
    + "; ".join(f"{p.name}: {p.summary}" for p in profiles.PROFILES.values()),
    "kvm": "accelerator: auto (probe KVM, fall back to TCG), kvm, or tcg",
    "timeout": "seconds before the whole boot is killed (default 1800, plus 4 s per 1000 "
    "fuzz calls past 100 000 and 3 s per concurrency second past 60)",
    "probe_timeout": "seconds the KVM probe may take before TCG is used",
    "inject_warn": "test only: load masterdev with inject_warn=1; the run must FAIL",
    "show_kernel": "echo the kernel console, not only the guest command's output",
    "select": "only run the VM tests matching this pytest -k expression",
    "fuzz_count": "calls the fuzz tests make in all (default 100000, in the iommu and users "
    "profiles 25000; tests/vm/test_fuzz.py)",
    "threads": "workers of the concurrency test (default 8; tests/vm/test_concurrency.py)",
    "seconds": "seconds the concurrency test runs (default 60)",
    "dkms": "also run the DKMS test (plain profile; DKMS compiles in the guest, ~20 min TCG)",
}


def _vm_test(**kwargs: Any) -> bool:
    with _harness_errors():
        report = vmtest.run(vmtest.VmTestRequest(**kwargs), PATHS)
    print(report.text())
    return report.ok


@_task(help=VM_HELP)
def vm_test(
    c: Context,
    kernel: str = kernels.DEFAULT_KERNEL,
    profile: str = "plain",
    kvm: str = "auto",
    timeout: float = vmtest.BOOT_TIMEOUT,
    probe_timeout: float = accel.PROBE_TIMEOUT,
    inject_warn: bool = False,
    show_kernel: bool = False,
    select: str = "",
    fuzz_count: str = "",
    threads: str = "",
    seconds: str = "",
    dkms: bool = False,
) -> None:
    """Build, boot QEMU, load the modules, run tests/vm in the guest, judge, report."""
    chosen = _choice("--profile", profile, list(profiles.PROFILES))
    calls = _count("--fuzz-count", fuzz_count) if fuzz_count else profiles.get(chosen).fuzz_calls
    busy = _seconds("--seconds", seconds) if seconds else 0.0
    if timeout == vmtest.BOOT_TIMEOUT:  # the default grows with the longer runs asked for
        timeout = min(MAX_SECONDS, timeout + vmtest.longer_runs_seconds(calls, busy))
    request = {
        "profile": chosen,
        "kvm": _choice("--kvm", kvm, accel.MODES),
        "timeout": _seconds("--timeout", str(timeout)),
        "probe_timeout": _seconds("--probe-timeout", str(probe_timeout)),
        "kernel": _kernel(kernel),
    }
    ok = _vm_test(
        **request,
        inject_warn=inject_warn,
        show_kernel=show_kernel,
        pytest_args=(
            *(("-k", select) if select else ()),
            *(("--fuzz-count", str(calls)) if fuzz_count else ()),  # else the profile's
            *(("--threads", str(_count("--threads", threads))) if threads else ()),
            *(("--seconds", str(busy)) if seconds else ()),
            *(("--dkms",) if dkms else ()),
        ),
    )
    if not ok:
        raise Exit("vm-test FAILED", code=1)


@_task(
    help={
        "profile": "whose tests and module parameters to use (default users: a 32-bit "
        "edu, as the Vagrantfile gives the box); the machine is what it is, so the "
        "profile's memory, devices and command line do not apply",
        "timeout": "seconds before the run is killed",
        "select": VM_HELP["select"],
    }
)
def native(
    c: Context, profile: str = "users", timeout: float = vmtest.BOOT_TIMEOUT, select: str = ""
) -> None:
    """The guest suite on this machine's own kernel, no VM: build against its headers
    (linux-headers-$(uname -r)), load the test build as root (sudo -n when not root),
    run tests/vm, judge the kernel log from the first module load on, report.

    For a disposable machine (the Vagrantfile's "native" box): the suite loads test
    builds, dirties free memory and provokes kernel reports on purpose.
    """
    with_tests = [p.name for p in profiles.PROFILES.values() if p.tests]
    ok = _vm_test(
        kernel="host",
        native=True,
        profile=_choice("--profile", profile, with_tests),
        timeout=_seconds("--timeout", str(timeout)),
        pytest_args=("-k", select) if select else (),
    )
    if not ok:
        raise Exit("native FAILED", code=1)


def _host_tests() -> None:
    done = run([sys.executable, "-m", "pytest", "tests/host"], cwd=PATHS.root, check=False)
    if done.returncode == 5:
        raise HarnessError("pytest collected no host tests")
    if not done.ok:
        raise HarnessError(f"host tests failed (pytest exit {done.returncode})")


def _lint(kernel: str) -> None:
    lint.python(PATHS)
    lint.checkpatch(PATHS)
    lint.kernel_doc(PATHS)
    lint.sparse(PATHS, kernel)
    lint.production(PATHS, kernel)
    lint.ci_files(PATHS)


@_task(help={"kernel": "kernel whose headers sparse uses: " + KERNEL_HELP})
def lint_(c: Context, kernel: str = kernels.DEFAULT_KERNEL) -> None:
    """ruff + mypy on Python; checkpatch, kernel-doc, sparse on C; no test hook in production.

    The first run fetches linux-source-6.1 (~140 MB) for checkpatch and kernel-doc.
    """
    _kernel(kernel)
    with _harness_errors():
        _lint(kernel)
    announce("lint clean")


MATRIX_KERNELS = "6.1,6.12"
MATRIX_PROFILES = "plain,bounce,iommu,himem,users,partial"


def _list(flag: str, text: str, check: Callable[[str], object]) -> list[str]:
    items = [item for item in text.split(",") if item]
    if not items:
        raise Exit(f"error: {flag} {text!r}: give at least one, comma-separated", code=2)
    for item in items:
        check(item)
    return items


def _jobs(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_JOBS:
        raise Exit(f"error: --jobs {text!r}: give a number of guests from 1 to {MAX_JOBS}", code=2)
    return int(text)


MAX_JOBS = 64
# A TCG guest runs in one host thread: one guest per core.
DEFAULT_JOBS = os.cpu_count() or 1


def _prepare(spec: str, kvm: str) -> None:
    """Fetch, build and probe once per kernel, so that parallel lanes only boot."""
    tree = kernels.resolve(spec, PATHS)
    kbuild.build(tree, PATHS)
    uapi.build(PATHS)
    accel.choose(kvm, tree, PATHS)


def _lane_matrix(specs: list[str], names: list[str], kvm: str) -> list[lanes.Lane]:
    """One `invoke vm-test` lane per kernel and profile, each with its own log,
    every kernel prepared first (so that the lanes only boot)."""
    for spec in specs:
        announce(f"stage: prepare {spec}")
        _prepare(spec, kvm)
    logs = PATHS.build / "test" / time.strftime("%Y%m%d-%H%M%S")
    invoke = str(Path(sys.executable).parent / "invoke")
    return [
        lanes.Lane(
            f"vm {k} {p}",
            [invoke, "vm-test", "-k", k, "-p", p, "--kvm", kvm],
            logs / f"{k}-{p}.log",
            minutes=profiles.get(p).lane_minutes,
        )
        for k in specs
        for p in names
    ]


@_task(
    help={
        "kernel": "comma-separated kernels for the VM tests (lint's sparse uses the first)",
        "profile": "comma-separated VM profiles",
        "kvm": VM_HELP["kvm"],
        "vm": "run the VM tests (--no-vm: host tests and lint only)",
        "jobs": "guests at once, the longest lanes first and one beside the host stages "
        "(each has its own log; 1: one after the other, output live)",
    }
)
def test(
    c: Context,
    kernel: str = MATRIX_KERNELS,
    profile: str = MATRIX_PROFILES,
    kvm: str = "auto",
    vm: bool = True,
    jobs: int = DEFAULT_JOBS,
) -> None:
    """Everything: host tests, lint, docs and the VM tests on each kernel and profile.

    With --jobs above 1, the VM lanes start once every kernel is prepared, one
    beside the host stages and all jobs once those are done.
    """
    _choice("--kvm", kvm, accel.MODES)
    names = _list("--profile", profile, lambda p: _choice("--profile", p, list(profiles.PROFILES)))
    specs = _list("--kernel", kernel, _kernel)
    parallel = _jobs(str(jobs))
    stages: list[tuple[str, Callable[[], object]]] = [
        ("host tests", _host_tests),
        ("lint", lambda: _lint(specs[0])),
        ("docs", lambda: docs.build(PATHS, specs[0])),
    ]
    if vm and parallel == 1:
        for k in specs:
            for p in names:
                stages.append(
                    (f"vm {k} {p}", functools.partial(_vm_test, kernel=k, profile=p, kvm=kvm))
                )
    results: list[tuple[str, str]] = []
    beside = None
    if vm and parallel > 1:
        try:
            beside = lanes.Beside(_lane_matrix(specs, names, kvm), parallel, PATHS.root)
        except HarnessError as err:
            print(f"error: {err}", file=sys.stderr)
            results.append(("vm lanes", "FAIL"))
    try:
        for name, stage in stages:
            announce(f"stage: {name}")
            try:
                outcome = stage()
                results.append((name, "FAIL" if outcome is False else "ok"))
            except (HarnessError, Exit) as err:
                print(f"error: {err}", file=sys.stderr)
                results.append((name, "FAIL"))
        if beside is not None:
            results += beside.done()
    except BaseException:
        if beside is not None:
            beside.cancel()
        raise
    print("\n".join(f"{name:<16} {status}" for name, status in results))
    if any(status != "ok" for _, status in results):
        raise Exit("test FAILED", code=1)


@_task(
    help={
        "kernel": KERNEL_HELP,
        "kvm": VM_HELP["kvm"],
        "full": "10 repetitions and more ring geometries (default: 3, 2-10 min under TCG)",
        "only": "comma-separated groups to run: " + benchrun.MAIN_GROUPS + " (default: all)",
    }
)
def bench_(
    c: Context,
    kernel: str = kernels.DEFAULT_KERNEL,
    kvm: str = "auto",
    full: bool = False,
    only: str = benchrun.MAIN_GROUPS,
) -> None:
    """Benchmarks: the allocators against their baselines, as ratios from one boot.

    A second boot (swiotlb=force) measures the bounce cost.  Writes
    build/bench/<stamp>/results.json, results.md and PNG plots; prints the table.
    """
    request = benchrun.BenchRequest(
        kernel=_kernel(kernel),
        kvm=_choice("--kvm", kvm, accel.MODES),
        options=bench.Options(reps=10 if full else 3, full=full),
        groups=tuple(
            _list("--only", only, lambda g: _choice("--only", g, benchrun.MAIN_GROUPS.split(",")))
        ),
    )
    with _harness_errors():
        result = benchrun.run(request, PATHS)
    print(result.markdown)
    for name, path in result.files.items():
        print(f"{name:<12} {path}")


@_task(
    help={
        "base_url": "URL the lab downloads build/lava/ from (kernels, modules, suites)",
        "rootfs": "URL of a Debian rootfs image with python3-pytest, -cffi, -pyroute2, -hypothesis",
        "kernel": "comma-separated kernels (default " + MATRIX_KERNELS + ")",
        "profile": "comma-separated profiles (default: every one that runs tests)",
    }
)
def lava_(
    c: Context,
    base_url: str = "",
    rootfs: str = "",
    kernel: str = MATRIX_KERNELS,
    profile: str = "",
) -> None:
    """LAVA jobs (tuxlava, QEMU) per kernel and profile, and the files they name, in build/lava/."""
    if not base_url.startswith(("http://", "https://")) or not rootfs.startswith(
        ("http://", "https://")
    ):
        raise Exit("error: give --base-url and --rootfs as http(s) URLs", code=2)
    default = ",".join(name for name, p in profiles.PROFILES.items() if p.tests)
    names = _list(
        "--profile", profile or default, lambda p: _choice("--profile", p, default.split(","))
    )
    specs = _list("--kernel", kernel, _kernel)
    with _harness_errors():
        jobs = lava.prepare(PATHS, specs, names, lava.Urls(base_url.rstrip("/"), rootfs))
    announce(f"{len(jobs)} LAVA jobs; serve {PATHS.build / 'lava'} at {base_url}")
    for job in jobs:
        print(job)


@_task(help={"kernel": "kernel whose production modules the parameters page lists: " + KERNEL_HELP})
def docs_(c: Context, kernel: str = kernels.DEFAULT_KERNEL) -> None:
    """Documentation/ as HTML in build/docs/html (Sphinx, kernel-doc); a warning fails."""
    _kernel(kernel)
    with _harness_errors():
        docs.build(PATHS, kernel)


@_task(help={"cache": "also remove the kernel and tool cache (" + str(PATHS.cache) + ")"})
def clean(c: Context, cache: bool = False) -> None:
    """Remove build/ (objects, run logs, reports); with --cache, the downloads too."""
    targets = [PATHS.build] + ([PATHS.cache] if cache else [])
    for target in targets:
        announce(f"removing {target}")
        shutil.rmtree(target, ignore_errors=True)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (a cancelled CI job, kill): unwind like Ctrl-C, so that the
    runner kills the guest's process group instead of leaving QEMU running."""
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _terminated)

ns = Collection(setup, kernel, build, vm_test, native, test, clean)
ns.add_task(lava_, name="lava")
ns.add_task(docs_, name="docs")
ns.add_task(lint_, name="lint")
ns.add_task(bench_, name="bench")
ns.configure({"run": {"echo": True}})
