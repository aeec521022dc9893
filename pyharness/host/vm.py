"""Boot a kernel in QEMU with virtme-ng and run one command in the guest.

The host root is shared read-only, the run directory is the guest's one
writable host directory, the machine is q35 (not microvm) with the profile's
devices.  The whole serial console is saved to console.log; the boot is
always wrapped in a timeout.  vng's exit status is not the guest's: without
udev in the shared root vng falls back to the console and reports 255 even
on success (and on a panic), so the guest writes its results to files.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..model.kjudge import strip_kernel_message
from ..runner import Completed, announce, run
from .kernels import KernelTree
from .profiles import Profile

ACCELS = ("kvm", "tcg")
# Multi-threaded TCG lets a vCPU run stale code that another vCPU has just
# patched; the kernel's int3-based text patching then oopses at boot ("Oops:
# int3" in sched_clock_cpu, seen with 6.12 on QEMU 7.2).  One TCG thread keeps
# two vCPUs, with cross-CPU code changes seen at once.
TCG_OPTS = ("-accel", "tcg,thread=single")
VNG_USAGE_ERROR = 2  # argparse: the harness built a bad command line
# The shared root (9p, read-only) with the guest's page and dentry caches on:
# vng mounts it uncached, so every stat() and read() of Python's imports is a
# round trip to the host, minutes of pytest's start on the debug kernel.  The
# host changes nothing under the root during a run (the run directory is a
# mount of its own), so caching is safe.  A later rootflags= replaces vng's.
ROOT_FLAGS = "rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose"


@dataclass(frozen=True)
class BootRequest:
    kernel: KernelTree
    profile: Profile
    command: list[str]
    run_dir: Path  # host directory, writable in the guest at the same path
    accel: str
    timeout: float
    cwd: Path
    cpus: int = 2
    append: tuple[str, ...] = ()
    show_kernel: bool = False  # echo kernel messages, not only the command's output
    quiet: bool = False  # echo nothing (the KVM probe: its caller says what happened)


@dataclass(frozen=True)
class BootResult:
    request: BootRequest
    console: Path
    completed: Completed

    @property
    def timed_out(self) -> bool:
        return self.completed.timed_out


def vng_executable() -> str:
    """vng from MASTERDMA_VNG, the running venv, or PATH."""
    override = os.environ.get("MASTERDMA_VNG")
    if override:
        return override
    beside = Path(sys.executable).parent / "vng"
    if beside.exists():
        return str(beside)
    found = shutil.which("vng")
    if not found:
        raise ConfigError("vng (virtme-ng) not found: run `make bootstrap` to set up the venv")
    return found


def vng_argv(req: BootRequest, vng: str | None = None) -> list[str]:
    if req.accel not in ACCELS:
        raise ConfigError(f"unknown accelerator {req.accel!r}")
    if not req.kernel.bootable:
        raise ConfigError(f"kernel {req.kernel.name} has no bootable image")
    assert req.kernel.image is not None
    argv = [vng or vng_executable(), "--run", str(req.kernel.image), "--disable-microvm"]
    argv.append("--force-9p")  # virtiofsd cannot serve the root here; don't wait for it
    if req.accel == "tcg":
        argv.append("--disable-kvm")
    argv += ["--verbose", "--cpus", str(req.cpus), "--memory", req.profile.memory]
    argv += ["--user", "root"]  # insmod, /dev/kmsg: root in the guest whoever runs vng
    argv += ["--rwdir", str(req.run_dir), "--cwd", str(req.cwd)]
    # "--opt=value": argparse takes a separate value starting with "-" for an option.
    qemu_opts = (*TCG_OPTS, *req.profile.qemu_opts) if req.accel == "tcg" else req.profile.qemu_opts
    argv.append(f"--qemu-opts={shlex.join(qemu_opts)}")
    append = (ROOT_FLAGS, *req.profile.append, *req.append)
    argv.append(f"--append={' '.join(append)}")
    argv.append(f"--exec={shlex.join(req.command)}")
    return argv


class CommandOutput:
    """The guest command's part of the console, one echo(line) call per line.

    Kernel messages are cut out.  One that lands in the middle of the command's
    line (a test's marker between pytest's test id and its PASSED) splits it;
    the part before is held and the line joined again: one line per test.
    """

    def __init__(self) -> None:
        self.held = ""

    def __call__(self, line: str) -> str:
        kept = strip_kernel_message(line)
        if kept != line:  # a kernel message: whole line, or cut into the command's
            self.held += kept.rstrip("\r\n")
            return ""
        shown, self.held = self.held + kept, ""
        if not shown.strip():
            return ""
        return shown if shown.endswith("\n") else shown + "\n"

    def flush(self) -> str:
        shown, self.held = self.held, ""
        return shown + "\n" if shown else ""


def boot(req: BootRequest, vng: str | None = None) -> BootResult:
    """Boot, run req.command, power off; the console goes to run_dir/console.log."""
    req.run_dir.mkdir(parents=True, exist_ok=True)
    console = req.run_dir / "console.log"
    announce(
        f"booting {req.kernel.release} ({req.profile.name}, {req.accel}, "
        f"timeout {req.timeout:.0f} s); console: {console}"
    )
    argv = vng_argv(req, vng)
    # vng runs its helpers (virtme-run...) from PATH: put its own directory first.
    path = f"{Path(argv[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    command_output = CommandOutput()
    echo: bool | CommandOutput = command_output
    if req.show_kernel or req.quiet:
        echo = not req.quiet
    done = run(
        argv,
        env={"PATH": path},
        log=console,
        echo=echo,
        timeout=req.timeout,
        check=False,
    )
    sys.stdout.write(command_output.flush())
    if done.returncode == VNG_USAGE_ERROR:
        raise ConfigError(f"vng rejected its arguments: {done.output.strip().splitlines()[-1]}")
    status = "timed out" if done.timed_out else f"vng exited {done.returncode}"
    announce(f"guest finished in {done.seconds:.1f} s ({status})")
    return BootResult(req, console, done)
