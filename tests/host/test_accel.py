"""KVM probing with fake vng executables: hang, abort, work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyharness.config import Paths
from pyharness.host import accel
from pyharness.host.kernels import KernelTree

FAKES = {
    # KVM guest that never answers (as on some nested hosts); TCG would work.
    "hang": 'case "$*" in *--disable-kvm*) echo hpet;; *) exec sleep 600;; esac',
    # qemu aborting as it does here: MSR 0x10a cannot be set.
    "abort": "echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69' >&2; exit 134",
    "works": "echo '[    0.1] clocksource: Switched to clocksource kvm-clock'; echo kvm-clock",
    "broken": "echo 'virtme-run: not found' >&2; exit 127",
}


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(root=tmp_path, cache=tmp_path / "cache", build=tmp_path / "build")


@pytest.fixture
def kernel(tmp_path: Path) -> KernelTree:
    image = tmp_path / "vmlinuz"
    image.write_text("")
    return KernelTree("6.1.0-56", "6.1.0-56-amd64", tmp_path, image, "debian")


def fake_vng(tmp_path: Path, behaviour: str) -> str:
    script = tmp_path / f"vng-{behaviour}"
    script.write_text("#!/bin/sh\n" + FAKES[behaviour] + "\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def kvm_device(tmp_path: Path) -> Path:
    device = tmp_path / "kvm"
    device.write_text("")
    return device


def choose(behaviour: str, paths: Paths, kernel: KernelTree, kvm_device: Path) -> accel.Choice:
    vng = fake_vng(paths.root, behaviour)
    return accel.choose("auto", kernel, paths, timeout=2, kvm_device=kvm_device, vng=vng)


def test_hanging_kvm_falls_back_to_tcg_within_the_timeout(
    paths: Paths, kernel: KernelTree, kvm_device: Path
) -> None:
    start = time.monotonic()
    choice = choose("hang", paths, kernel, kvm_device)
    assert choice.accel == "tcg"
    assert "hung" in choice.reason
    assert time.monotonic() - start < 10  # 2 s probe plus the kill, not 600 s


def test_aborting_kvm_falls_back_to_tcg(paths: Paths, kernel: KernelTree, kvm_device: Path) -> None:
    choice = choose("abort", paths, kernel, kvm_device)
    assert (choice.accel, choice.probed) == ("tcg", True)
    assert "MSR 0x10a" in choice.reason


def test_working_kvm_is_used_and_cached(paths: Paths, kernel: KernelTree, kvm_device: Path) -> None:
    choice = choose("works", paths, kernel, kvm_device)
    assert (choice.accel, choice.probed) == ("kvm", True)
    cached = choose("hang", paths, kernel, kvm_device)  # the cache answers, no probe
    assert (cached.accel, cached.probed) == ("kvm", False)


def test_a_vng_that_cannot_start_is_not_cached(
    paths: Paths, kernel: KernelTree, kvm_device: Path
) -> None:
    assert choose("broken", paths, kernel, kvm_device).accel == "tcg"
    assert choose("works", paths, kernel, kvm_device).accel == "kvm"


def test_no_kvm_device_means_tcg_without_probing(paths: Paths, kernel: KernelTree) -> None:
    choice = choose("works", paths, kernel, paths.root / "no-such-kvm")
    assert (choice.accel, choice.probed) == ("tcg", False)


@pytest.mark.parametrize(("mode", "expected"), [("tcg", "tcg"), ("kvm", "kvm")])
def test_forced_modes_do_not_probe(
    mode: str, expected: str, paths: Paths, kernel: KernelTree, kvm_device: Path
) -> None:
    vng = fake_vng(paths.root, "hang")
    choice = accel.choose(mode, kernel, paths, timeout=1, kvm_device=kvm_device, vng=vng)
    assert (choice.accel, choice.probed) == (expected, False)
