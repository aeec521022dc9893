"""The vm-test pipeline: kernel -> build -> accelerator -> boot -> judge -> report.

``native`` runs the same pipeline without a VM: the guest runner runs on this
machine, as root, against its own kernel (the Vagrantfile's native machine).
"""

from __future__ import annotations

import compileall
import datetime
import os
import shutil
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .. import runner, uapi
from ..config import Paths
from ..errors import ConfigError
from ..model import figures, kjudge, ktap, layoutreport
from ..model.plan import RESULT, GuestResult, ModuleSpec, Plan
from ..runner import Completed, announce
from . import accel, dkms, kbuild, kcidb, kernels, pagemap, profiles, vm
from .report import Report, describe_taint, read_junit

# Modules loaded for every run, in order (a library before its users).
MODULES = ("mdma", "masterdev")
# Modules the tests load and unload themselves: the high-memory allocator,
# its linked build, the test door and a second client.
ON_DEMAND = ("allocator", "himemlink", "himemtest", "himemclient", "masterbench")
# The profile whose guest installs the modules with DKMS (once per kernel).
DKMS_PROFILE = "plain"
# A whole profile under TCG takes 8-15 min on a busy 2-core machine (the fuzz and
# concurrency tests among it): twice that before a hung guest is given up.
BOOT_TIMEOUT = 1800.0
# What the default runs of tests/vm take, and what more of them costs under
# TCG with a second guest beside (measured: 100 000 fuzz calls in 163 s).
DEFAULT_FUZZ_CALLS = profiles.DEFAULT_FUZZ_CALLS
DEFAULT_BUSY_SECONDS = 60.0


# The debug kernel (KASAN, kmemleak's scan after each test, lockdep) runs the
# suite this many times slower under TCG: --timeout is scaled by it.
DEBUG_SLOWDOWN = 6.0
# What the report and the results files name as the accelerator of a native run.
NATIVE = "native"


def longer_runs_seconds(fuzz_calls: int, busy_seconds: float) -> float:
    """Seconds to add to the boot's timeout for a fuzz run of fuzz_calls
    (4 s per 1000 calls past the default) and a concurrency run of
    busy_seconds (3 s per second past the default: the test runs its
    storm, then checks; test_himem's storm runs a third of it)."""
    extra_calls = max(0, fuzz_calls - DEFAULT_FUZZ_CALLS)
    extra_busy = max(0.0, busy_seconds - DEFAULT_BUSY_SECONDS)
    return extra_calls * 4 / 1000 + extra_busy * 3


@dataclass(frozen=True)
class VmTestRequest:
    kernel: str = kernels.DEFAULT_KERNEL
    profile: str = "plain"
    kvm: str = "auto"
    timeout: float = BOOT_TIMEOUT
    probe_timeout: float = accel.PROBE_TIMEOUT
    inject_warn: bool = False
    tests: tuple[str, ...] = ()  # default: the profile's
    pytest_args: tuple[str, ...] = ()
    show_kernel: bool = False
    bench: tuple[str, ...] = ()  # run pyharness.guest.benchguest with these, not pytest
    native: bool = False  # no VM: this machine's running kernel ("host"), as root


def run(request: VmTestRequest, paths: Paths) -> Report:
    """Run the whole pipeline; the Report says PASS or why not, and is saved."""
    start = time.monotonic()
    started = kcidb.now()
    profile = profiles.get(request.profile)
    kernel = kernels.resolve("host" if request.native else request.kernel, paths)
    built = kbuild.build(kernel, paths)
    uapi.build(paths)  # the guest imports it; its root is read-only
    _compile_harness(paths)
    if request.native:
        choice = accel.Choice(NATIVE, "no VM: the modules load into this machine's kernel")
    else:
        choice = accel.choose(request.kvm, kernel, paths, timeout=request.probe_timeout)
    run_dir = _new_run_dir(paths, kernel.release, NATIVE if request.native else profile.name)
    modules, on_demand = _modules(built, request, profile, run_dir)
    plan = Plan(
        modules,
        request.tests or profile.tests,
        (*(() if request.native else profile.pytest_args()), *request.pytest_args),
        () if request.bench else layoutreport.REPORT_RINGS,
        on_demand,
        request.bench,
        profile.name,
        str(kernel.build_dir),
        "" if request.native else _dkms_tarball(kernel, paths, profile, request, run_dir),
    )
    plan.dump(run_dir)
    command = [sys.executable, "-m", "pyharness.guest", str(run_dir)]
    timeout = request.timeout * (DEBUG_SLOWDOWN if kernel.origin == "debug" else 1.0)
    if request.native:
        ran = _run_here(command, run_dir, timeout, paths)
    else:
        booted = vm.boot(
            vm.BootRequest(
                kernel=kernel,
                profile=profile,
                command=command,
                run_dir=run_dir,
                accel=choice.accel,
                timeout=timeout,
                cwd=paths.root,
                show_kernel=request.show_kernel,
            )
        )
        ran = Ran.of_boot(booted)
    report = Report(kernel.release, profile.name, choice.accel, choice.reason, run_dir=str(run_dir))
    _collect(report, ran, run_dir, bench=bool(request.bench))
    if not request.bench:
        _results_files(report, paths, run_dir, started, time.monotonic() - start)
    report.layouts = layoutreport.render(run_dir)
    report.figures = figures.render(run_dir)
    _draw_maps(report, run_dir)
    report.wall_seconds = time.monotonic() - start
    report.save(run_dir)
    _link_latest(paths, run_dir)
    return report


@dataclass(frozen=True)
class Ran:
    """How the guest runner ended, in a VM or here, and the kernel log to judge."""

    completed: Completed
    log: list[kjudge.LogLine] | None  # None: no kernel log of the run to judge
    what: str  # "boot" or "the native run"
    timeout: float  # seconds

    @classmethod
    def of_boot(cls, booted: vm.BootResult) -> Ran:
        """A VM run: the kernel log is the serial console's."""
        log = kjudge.parse_console(booted.console.read_text(errors="replace"))
        return cls(booted.completed, log, "boot", booted.request.timeout)


def _compile_harness(paths: Paths) -> None:
    """Byte-compile pyharness for the guest, whose root is read-only: each of
    its Python processes (pytest, the CLI the tests run, the fault sweeps'
    children) then starts in about half the time, minutes on the debug kernel."""
    if not compileall.compile_dir(paths.root / "pyharness", quiet=1):
        raise ConfigError("pyharness does not byte-compile (a syntax error?)")


def _run_here(command: list[str], run_dir: Path, timeout: float, paths: Paths) -> Ran:
    """The guest runner on this machine, as root (``sudo -n`` when we are not):
    its output goes to run_dir/console.log, the kernel log to judge is its
    kmsg.txt from its run marker on (the machine's boot and earlier runs are
    not this run's).  The run is killed after timeout seconds on the root side
    too, then what it left loaded is unloaded; run_dir is ours again after."""
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and not runner.run([*sudo, "true"], check=False, show=False, echo=False).ok:
        raise ConfigError("invoke native needs root: run it as root or with sudo -n (no password)")
    kill_after = 30.0
    argv = [*sudo, "timeout", "-k", f"{kill_after:.0f}", f"{timeout:.0f}", *command]
    announce(f"running the guest suite on this machine ({os.uname().release}); log: console.log")
    done = runner.run(
        argv, cwd=paths.root, log=run_dir / "console.log", timeout=timeout + 2 * kill_after,
        check=False,
    )  # fmt: skip
    if done.returncode in {124, 137} or done.timed_out:  # timeout(1): TERM, then KILL
        done = Completed(done.argv, None, done.output, done.seconds)
    for name in (*reversed(ON_DEMAND), *reversed(MODULES)):  # users before libraries
        if Path("/sys/module", name).exists():
            runner.run([*sudo, "rmmod", name], check=False)
    if sudo:
        owner = f"{os.getuid()}:{os.getgid()}"
        runner.run([*sudo, "chown", "-R", owner, str(run_dir)], check=False, show=False)
    return Ran(done, native_log(run_dir), "the native run", timeout)


def native_log(run_dir: Path) -> list[kjudge.LogLine] | None:
    """The runner's kmsg.txt from its run marker on; None when it saved none
    or the marker is missing (the kernel log of the run is then not judged)."""
    kmsg = run_dir / "kmsg.txt"
    if not kmsg.exists():
        return None
    lines = kjudge.parse_kmsg(kmsg.read_text(errors="replace").splitlines())
    return kjudge.since_run(lines, run_dir.name)


def _results_files(
    report: Report, paths: Paths, run_dir: Path, started: datetime.datetime, seconds: float
) -> None:
    """Beside junit.xml, the same results for CI systems: KTAP (kunit.py
    parse reads it) and a KCIDB report (KernelCI), named in the report."""
    kernel_log = [] if report.kernel_log.startswith("clean") else [report.kernel_log]
    ktap.write(run_dir, kernel_log)
    report.results = [name for name in ("junit.xml", ktap.FILE_NAME) if (run_dir / name).exists()]
    commit, dirty = kcidb.checkout(paths.root)
    run = kcidb.Run(
        commit, dirty, report.kernel, report.profile, report.accel, run_dir, started, seconds,
        booted=(run_dir / RESULT).exists(), kernel_log_problems=tuple(kernel_log),
        files_url=f"{paths.runs_url}/{urllib.parse.quote(run_dir.name)}" if paths.runs_url else "",
    )  # fmt: skip
    try:
        kcidb.write(run, ktap.cases_of(run_dir))
    except ValueError as err:  # the schema's complaint, from kcidb.validate
        report.problems.append(f"the KCIDB report does not validate: {err}")
    else:
        report.results.append(kcidb.FILE_NAME)


def _draw_maps(report: Report, run_dir: Path) -> None:
    """The PNG page maps of what the guest saved, named in the report."""
    try:
        report.maps = [str(png.relative_to(run_dir)) for png in pagemap.render(run_dir)]
    except (OSError, ValueError, KeyError) as err:
        report.problems.append(f"page maps: the guest's saved maps do not draw: {err!r}")


def _modules(
    built: kbuild.BuildResult, request: VmTestRequest, profile: profiles.Profile, run_dir: Path
) -> tuple[tuple[ModuleSpec, ...], tuple[str, ...]]:
    """The run's own copy of each module: the logs keep the binaries they judged,
    and a concurrent build cannot replace them under a booted guest.  Returns
    the modules to load at boot and the paths of those loaded on demand."""
    (run_dir / "modules").mkdir()
    copies = {
        name: str(shutil.copy2(built.modules[name], run_dir / "modules"))
        for name in (*MODULES, *ON_DEMAND)
    }
    specs = []
    for name in MODULES:
        params = profile.params_for(name)
        if request.inject_warn and name == "masterdev":
            params += ("inject_warn=1",)
        specs.append(ModuleSpec(copies[name], params))
    return tuple(specs), tuple(copies[name] for name in ON_DEMAND)


def _dkms_tarball(
    kernel: kernels.KernelTree,
    paths: Paths,
    profile: profiles.Profile,
    request: VmTestRequest,
    run_dir: Path,
) -> str:
    """DKMS's build of the production modules, packed for the guest's DKMS
    test: in the profile that runs it (plain, once per kernel), when the host
    has dkms.  A DKMS failure stops the run like a kbuild failure."""
    if request.bench or profile.name != DKMS_PROFILE or not dkms.available():
        return ""
    return str(dkms.binary_tarball(kernel, paths, run_dir))


def _new_run_dir(paths: Paths, release: str, profile: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = paths.runs / f"{stamp}-{release}-{profile}"
    run_dir.mkdir(parents=True)
    return run_dir


def _link_latest(paths: Paths, run_dir: Path) -> None:
    """build/runs/latest -> run_dir, replaced atomically (parallel lanes race here)."""
    latest = paths.runs / "latest"
    temporary = paths.runs / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run_dir.name)
    os.replace(temporary, latest)


def _collect(report: Report, ran: Ran, run_dir: Path, *, bench: bool) -> None:
    """Fill the report from the guest's files and its kernel log; list every problem."""
    problems = report.problems
    if ran.completed.timed_out:
        problems.append(f"{ran.what} timed out after {ran.timeout:.0f} s")
    verdict = _judge_log(report, ran)
    result = _guest_result(problems, run_dir)
    if result is None:
        return
    report.clocksource = result.clocksource
    if report.accel != NATIVE:  # a machine's uptime is not a boot time
        report.boot_seconds = result.uptime_at_start
    if report.accel == "kvm" and report.clocksource != "kvm-clock":
        problems.append(f"asked for KVM but the guest's clocksource is {report.clocksource}")
    for op in result.loads + result.unloads:
        status = "ok" if op.ok else f"FAILED ({op.output})"
        report.modules.append(f"{op.action} {op.module}: {status}")
        if not op.ok:
            problems.append(f"{op.action} {op.module} failed: {op.output}")
    allowed = kjudge.ALLOWED_TAINT
    if any(f.kind == "WARNING" for f in verdict.excused):
        allowed |= kjudge.TAINT_WARN
    report.taint = describe_taint(result.taint_at_end)
    raised = kjudge.new_taint(result.taint_at_start, result.taint_at_end, allowed)
    if raised:
        problems.append(f"kernel taint raised: {raised}")
    if bench:
        if result.pytest_returncode != 0:
            report.problems.append(f"the bench failed (exit {result.pytest_returncode})")
    else:
        _judge_pytest(report, result.pytest_returncode, run_dir)


def _judge_log(report: Report, ran: Ran) -> kjudge.Verdict:
    """The kernel log's verdict, in the report and its problems."""
    if ran.log is None:
        report.kernel_log = "not judged"
        report.problems.append(
            f"{ran.what} left no kernel log of its own (no kmsg.txt with its marker)"
        )
    verdict = kjudge.judge(ran.log or [])
    if not verdict.ok:
        report.kernel_log = "FAIL: " + ", ".join(verdict.kinds())
        report.problems.append("kernel log reports " + ", ".join(verdict.kinds()))
        print(verdict.report(), file=sys.stderr)
    elif verdict.excused:
        report.kernel_log = f"clean ({len(verdict.excused)} expected report lines from tests)"
    return verdict


def _guest_result(problems: list[str], run_dir: Path) -> GuestResult | None:
    """The guest's result.json, or None with the reason in problems."""
    try:
        return GuestResult.load(run_dir)
    except FileNotFoundError:
        problems.append(f"the guest wrote no {RESULT} (crash or panic? see console.log)")
    except (OSError, KeyError, TypeError, ValueError) as err:
        problems.append(f"the guest's {RESULT} does not read: {err!r}")
    return None


def _judge_pytest(report: Report, returncode: int | None, run_dir: Path) -> None:
    report.tests = read_junit(run_dir / "junit.xml")
    if returncode is None:
        report.problems.append("tests did not run")
    elif returncode == 5:
        report.problems.append("pytest collected no tests")
    elif returncode != 0:
        failing = ", ".join(report.tests.failing) if report.tests else ""
        report.problems.append(f"tests failed (pytest exit {returncode}) {failing}".strip())
