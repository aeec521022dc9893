"""Choose the accelerator: KVM when it really works, TCG otherwise.

A /dev/kvm that exists is not enough: on some nested hosts KVM guests abort
(qemu cannot set an MSR) or hang.  The probe boots the kernel under KVM with a
short timeout and asks the guest for its clocksource; only a guest that
answers ``kvm-clock`` means KVM.  The answer is cached per host kernel and
guest kernel, so a hanging KVM costs the timeout once.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config import Paths
from ..errors import ConfigError
from ..runner import announce
from .kernels import KernelTree
from .profiles import PROFILES
from .vm import BootRequest, boot

CLOCKSOURCE = "/sys/devices/system/clocksource/clocksource0/current_clocksource"
PROBE_TIMEOUT = 45.0
MODES = ("auto", "kvm", "tcg")


@dataclass(frozen=True)
class Choice:
    accel: str  # "kvm" or "tcg"
    reason: str
    probed: bool = False  # a probe ran now (not a cached answer)


def choose(
    mode: str,
    kernel: KernelTree,
    paths: Paths,
    *,
    timeout: float = PROBE_TIMEOUT,
    kvm_device: Path = Path("/dev/kvm"),
    vng: str | None = None,
    reprobe: bool = False,
) -> Choice:
    """Resolve --kvm auto|kvm|tcg into the accelerator to boot with."""
    if mode not in MODES:
        raise ConfigError(f"--kvm must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "tcg":
        return Choice("tcg", "TCG requested")
    if mode == "kvm":
        return Choice("kvm", "KVM requested (not probed)")
    if not os.access(kvm_device, os.R_OK | os.W_OK):
        return Choice("tcg", f"{kvm_device} is missing or not accessible")
    cache = paths.cache / "kvm-probe.json"
    key = f"{platform.node()} {platform.release()} {kernel.release}"
    known = _load(cache)
    if key in known and not reprobe:
        return Choice(known[key]["accel"], known[key]["reason"])
    choice, conclusive = probe(kernel, paths, timeout=timeout, vng=vng)
    if conclusive:
        known[key] = {"accel": choice.accel, "reason": choice.reason}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=2) + "\n")
    return choice


def probe(
    kernel: KernelTree, paths: Paths, *, timeout: float, vng: str | None = None
) -> tuple[Choice, bool]:
    """Boot under KVM with a timeout; KVM only if the guest reports kvm-clock.

    Also says whether the answer is about KVM (worth caching): a guest that
    answered, hung, or a qemu that failed; not a vng that could not start.
    """
    announce(f"probing KVM (timeout {timeout:.0f} s)")
    with tempfile.TemporaryDirectory(prefix="kvm-probe-", dir=_tmp(paths)) as tmp:
        req = BootRequest(
            kernel=kernel,
            profile=PROFILES["plain"],
            command=["cat", CLOCKSOURCE],
            run_dir=Path(tmp),
            accel="kvm",
            timeout=timeout,
            cwd=Path("/"),
            quiet=True,  # QEMU's own complaint is part of the reason announced below
        )
        result = boot(req, vng=vng)
    done = result.completed
    conclusive = True
    if done.timed_out:
        choice = Choice("tcg", f"KVM guest hung (no answer in {timeout:.0f} s)", True)
    elif "kvm-clock" in done.output:
        choice = Choice("kvm", f"KVM guest answered in {done.seconds:.1f} s", True)
    else:
        lines = [ln.strip() for ln in done.output.splitlines() if ln.strip()] or ["no output"]
        why = next((ln for ln in lines if "error" in ln.lower()), lines[-1])
        choice = Choice("tcg", f"KVM guest failed: {why[:120]}", True)
        conclusive = "qemu" in done.output.lower()
    announce(f"accelerator: {choice.accel} ({choice.reason})")
    return choice, conclusive


def _tmp(paths: Paths) -> Path:
    paths.build.mkdir(parents=True, exist_ok=True)
    return paths.build


def _load(cache: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
