"""masterdma tasks: `invoke --list`, and `invoke --help TASK` for each task's flags."""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from invoke import Collection, Context, Exit, task

from pyharness import accel, kbuild, kernels, lint, profiles, vmtest
from pyharness.config import Paths
from pyharness.errors import BuildError, HarnessError
from pyharness.runner import announce, run

PATHS = Paths.default()
KERNEL_HELP = "'6.1' (default), '6.12', an exact Debian ABI, 'host', or a build tree path"


@contextmanager
def _harness_errors() -> Iterator[None]:
    """Turn the harness's typed errors into a clear message and exit status 1."""
    try:
        yield
    except HarnessError as err:
        if isinstance(err, BuildError):
            print(err.output, file=sys.stderr)
        raise Exit(f"error: {err}", code=1) from err


@task(help={"kernel": KERNEL_HELP})
def setup(c: Context, kernel: str = kernels.DEFAULT_KERNEL) -> None:
    """Fetch the kernel and checkpatch the other tasks need (host packages: make bootstrap)."""
    with _harness_errors():
        tree = kernels.resolve(kernel, PATHS)
        scripts = lint.kernel_scripts(PATHS)
    announce(f"ready: kernel {tree.release} in {tree.build_dir}; kernel scripts in {scripts}")


@task(help={"kernel": KERNEL_HELP, "list_cached": "list the cached kernels and exit"})
def kernel(c: Context, kernel: str = kernels.DEFAULT_KERNEL, list_cached: bool = False) -> None:
    """Fetch a Debian kernel into the cache (once) and print where it is."""
    if list_cached:
        for data in kernels.cached_kernels(PATHS):
            print(f"{data['name']:<20} {data['release']:<28} {data['image']}")
        return
    with _harness_errors():
        tree = kernels.resolve(kernel, PATHS)
    for key, value in kernels.describe(tree).items():
        print(f"{key:<10} {value}")


@task(help={"kernel": KERNEL_HELP, "sparse": "also run sparse (C=2)"})
def build(c: Context, kernel: str = kernels.DEFAULT_KERNEL, sparse: bool = False) -> None:
    """Build the modules with kbuild (W=1; a warning fails) against a kernel."""
    with _harness_errors():
        result = kbuild.build(kernels.resolve(kernel, PATHS), PATHS, sparse=sparse)
    for name, path in result.modules.items():
        print(f"{name:<12} {path}")


VM_HELP = {
    "kernel": KERNEL_HELP,
    "profile": "VM profile: "
    + "; ".join(f"{p.name}: {p.summary}" for p in profiles.PROFILES.values()),
    "kvm": "accelerator: auto (probe KVM, fall back to TCG), kvm, or tcg",
    "timeout": "seconds before the whole boot is killed",
    "probe_timeout": "seconds the KVM probe may take before TCG is used",
    "inject_warn": "test only: load masterdev with inject_warn=1; the run must FAIL",
    "show_kernel": "echo the kernel console, not only the guest command's output",
    "k": "only run VM tests matching this pytest -k expression",
}


def _vm_test(**kwargs: Any) -> bool:
    with _harness_errors():
        report = vmtest.run(vmtest.VmTestRequest(**kwargs), PATHS)
    print(report.text())
    return report.ok


@task(help=VM_HELP)
def vm_test(
    c: Context,
    kernel: str = kernels.DEFAULT_KERNEL,
    profile: str = "plain",
    kvm: str = "auto",
    timeout: float = vmtest.BOOT_TIMEOUT,
    probe_timeout: float = accel.PROBE_TIMEOUT,
    inject_warn: bool = False,
    show_kernel: bool = False,
    k: str = "",
) -> None:
    """Build, boot QEMU, load the modules, run tests/vm in the guest, judge, report."""
    ok = _vm_test(
        kernel=kernel,
        profile=profile,
        kvm=kvm,
        timeout=timeout,
        probe_timeout=probe_timeout,
        inject_warn=inject_warn,
        show_kernel=show_kernel,
        pytest_args=("-k", k) if k else (),
    )
    if not ok:
        raise Exit("vm-test FAILED", code=1)


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


@task(help={"kernel": "kernel whose headers sparse uses: " + KERNEL_HELP})
def lint_(c: Context, kernel: str = kernels.DEFAULT_KERNEL) -> None:
    """ruff + mypy on Python; checkpatch --strict, kernel-doc and sparse on C. Warnings fail."""
    with _harness_errors():
        _lint(kernel)
    announce("lint clean")


MATRIX_KERNELS = "6.1,6.12"
MATRIX_PROFILES = "plain,iommu,himem,users,partial"


@task(
    help={
        "kernels": f"comma-separated kernels for the VM tests (default {MATRIX_KERNELS})",
        "profiles": f"comma-separated VM profiles (default {MATRIX_PROFILES})",
        "kvm": VM_HELP["kvm"],
        "vm": "run the VM tests (--no-vm: host tests and lint only)",
    }
)
def test(
    c: Context,
    kernels: str = MATRIX_KERNELS,
    profiles: str = MATRIX_PROFILES,
    kvm: str = "auto",
    vm: bool = True,
) -> None:
    """Everything: host tests, lint, then the VM tests on each kernel and profile."""
    stages: list[tuple[str, Callable[[], object]]] = [
        ("host tests", _host_tests),
        ("lint", lambda: _lint(kernels.split(",", maxsplit=1)[0])),
    ]
    if vm:
        for k in kernels.split(","):
            for p in profiles.split(","):
                stages.append(
                    (f"vm {k} {p}", functools.partial(_vm_test, kernel=k, profile=p, kvm=kvm))
                )
    results: list[tuple[str, str]] = []
    for name, stage in stages:
        announce(f"stage: {name}")
        try:
            outcome = stage()
            results.append((name, "FAIL" if outcome is False else "ok"))
        except (HarnessError, Exit) as err:
            print(f"error: {err}", file=sys.stderr)
            results.append((name, "FAIL"))
    print("\n".join(f"{name:<16} {status}" for name, status in results))
    if any(status != "ok" for _, status in results):
        raise Exit("test FAILED", code=1)


@task(help={"cache": "also remove the kernel and tool cache (" + str(PATHS.cache) + ")"})
def clean(c: Context, cache: bool = False) -> None:
    """Remove build/ (objects, run logs, reports); with --cache, the downloads too."""
    targets = [PATHS.build] + ([PATHS.cache] if cache else [])
    for target in targets:
        announce(f"removing {target}")
        shutil.rmtree(target, ignore_errors=True)


ns = Collection(setup, kernel, build, vm_test, test, clean)
ns.add_task(lint_, name="lint")
ns.configure({"run": {"echo": True}})
