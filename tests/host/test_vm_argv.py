"""The vng command line of each profile and accelerator."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyharness.errors import ConfigError
from pyharness.host import profiles, vm
from pyharness.host.kernels import KernelTree


def request(tmp_path: Path, profile: str, accel: str = "tcg") -> vm.BootRequest:
    image = tmp_path / "vmlinuz"
    image.write_text("")
    kernel = KernelTree("6.1.0-56", "6.1.0-56-amd64", tmp_path, image, "debian")
    return vm.BootRequest(
        kernel=kernel,
        profile=profiles.get(profile),
        command=["python", "-m", "pyharness.guest", "/run dir"],
        run_dir=tmp_path / "run",
        accel=accel,
        timeout=60,
        cwd=tmp_path,
    )


def test_plain_tcg(tmp_path: Path) -> None:
    argv = vm.vng_argv(request(tmp_path, "plain"), vng="vng")
    assert argv[:3] == ["vng", "--run", str(tmp_path / "vmlinuz")]
    assert "--disable-microvm" in argv
    assert "--disable-kvm" in argv
    assert argv[argv.index("--user") + 1] == "root"
    low_ram = "-machine max-ram-below-4g=256M"
    assert f"--qemu-opts=-accel tcg,thread=single {low_ram} -device edu" in argv
    assert argv[argv.index("--memory") + 1] == "1G"
    assert argv[argv.index("--rwdir") + 1] == str(tmp_path / "run")
    assert argv[-1] == "--exec=python -m pyharness.guest '/run dir'"
    # the kernel does not zero pages for mdma: the zero-fill tests can fail
    append = [arg for arg in argv if arg.startswith("--append")]
    assert append == [f"--append={vm.ROOT_FLAGS} init_on_alloc=0"]


def test_kvm_does_not_disable_kvm(tmp_path: Path) -> None:
    argv = vm.vng_argv(request(tmp_path, "plain", "kvm"), vng="vng")
    assert "--disable-kvm" not in argv
    assert "--qemu-opts=-machine max-ram-below-4g=256M -device edu" in argv


def test_iommu_profile(tmp_path: Path) -> None:
    argv = vm.vng_argv(request(tmp_path, "iommu"), vng="vng")
    assert (
        "--qemu-opts=-accel tcg,thread=single -device intel-iommu,intremap=off -device edu" in argv
    )
    assert f"--append={vm.ROOT_FLAGS} intel_iommu=on iommu.strict=1" in argv


def test_himem_profile(tmp_path: Path) -> None:
    argv = vm.vng_argv(request(tmp_path, "himem"), vng="vng")
    assert argv[argv.index("--memory") + 1] == "512M"
    assert f"--append={vm.ROOT_FLAGS} mem=440M" in argv


def test_users_and_partial_profiles(tmp_path: Path) -> None:
    users = vm.vng_argv(request(tmp_path, "users"), vng="vng")
    assert users[users.index("--memory") + 1] == "5G"  # RAM above 4 GiB: a bounce pool
    assert "--qemu-opts=-accel tcg,thread=single -device edu,dma_mask=0xffffffff" in users
    assert profiles.get("users").params_for("masterdev") == ("edu_dma_bits=32",)
    partial = vm.vng_argv(request(tmp_path, "partial"), vng="vng")
    assert "--qemu-opts=-accel tcg,thread=single -device edu" in partial  # 28 bits
    for argv in (users, partial):  # the default command line, the root's cache aside
        assert [arg for arg in argv if arg.startswith("--append")] == [f"--append={vm.ROOT_FLAGS}"]


def test_the_shared_root_is_cached_and_replaces_vngs_rootflags(tmp_path: Path) -> None:
    """vng mounts the root uncached; our rootflags= comes after its own in the
    kernel's command line (vng adds --append's words last), and the last wins."""
    assert vm.ROOT_FLAGS.startswith("rootflags=") and vm.ROOT_FLAGS.endswith(",cache=loose")
    argv = vm.vng_argv(request(tmp_path, "plain"), vng="vng")
    assert argv[argv.index(f"--append={vm.ROOT_FLAGS} init_on_alloc=0") + 1].startswith("--exec=")


def test_unknown_profile_and_accel(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        profiles.get("nosuch")
    with pytest.raises(ConfigError, match="accelerator"):
        vm.vng_argv(request(tmp_path, "plain", "hvf"), vng="vng")


def test_console_echo_keeps_the_command_output_one_line_per_test() -> None:
    """As a real console.log has it: pytest's line split by the test's markers."""
    console = [
        "[    3.1] virtme initramfs: loading\r\n",
        "guest: insmod masterdev -> 0\r\n",
        "tests/vm/test_a.py::test_b [   30.1] masterdma: begin tests/vm/test_a.py::test_b\r\n",
        "[   30.15] masterdev: loaded\r\n",
        "\x1b[32mPASSED\x1b[0m [ 16%][   30.2] masterdma: end tests/vm/test_a.py::test_b\r\n",
        "\r\n",
        "tests/vm/test_a.py::test_c [   30.3] masterdma: begin tests/vm/test_a.py::test_c\r\n",
        "\x1b[32mPASSED\x1b[0m [ 33%][   30.4] masterdma: end tests/vm/test_a.py::test_c\r\n",
    ]
    echo = vm.CommandOutput()
    shown = "".join(echo(line) for line in console) + echo.flush()
    assert shown.replace("\r", "").splitlines() == [
        "guest: insmod masterdev -> 0",
        "tests/vm/test_a.py::test_b \x1b[32mPASSED\x1b[0m [ 16%]",
        "tests/vm/test_a.py::test_c \x1b[32mPASSED\x1b[0m [ 33%]",
    ]
