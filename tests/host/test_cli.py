"""The command line as a newcomer meets it: one meaning per short flag, a bad
argument refused in one line before any build or boot, a clean that cleans,
a build that recompiles only what changed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyharness.config import Paths
from pyharness.errors import KernelFetchError
from pyharness.host import kbuild, kernels

ROOT = Path(__file__).resolve().parents[2]
INVOKE = [sys.executable, "-m", "invoke"]


def invoke(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INVOKE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def task_names() -> list[str]:
    listed = invoke("--list").stdout
    return [m.group(1) for m in re.finditer(r"^\s+([a-z][\w-]*)", listed, re.M)]


def short_flags(task: str) -> dict[str, str]:
    """short flag -> long flag, as `invoke --help TASK` shows them."""
    helptext = invoke("--help", task).stdout
    return dict(re.findall(r"^\s+-(\w)(?: \w+)?, --([\w-]+)", helptext, re.M))


def test_every_short_flag_has_one_meaning_in_every_task() -> None:
    names = task_names()
    assert {"vm-test", "test", "build", "lint"} <= set(names)
    meaning: dict[str, set[str]] = {}
    for task in names:
        for short, long in short_flags(task).items():
            meaning.setdefault(short, set()).add(long)
    assert meaning["k"] == {"kernel"}
    assert {short: longs for short, longs in meaning.items() if len(longs) > 1} == {}


def test_help_shows_defaults() -> None:
    helptext = " ".join(invoke("--help", "vm-test").stdout.split())
    assert "(default: 1800)" in helptext
    assert "(default: 45)" in helptext
    assert "(default: plain)" in helptext


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("vm-test", "--kvm", "maybe"), ("'maybe'", "auto, kvm, tcg")),
        (("vm-test", "--timeout", "abc"), ("'abc'", "seconds")),
        (("vm-test", "--probe-timeout", "-3"), ("'-3'", "seconds")),
        (("vm-test", "--profile", "nosuch"), ("'nosuch'", "plain, ", "iommu")),
        (("test", "--profile", "plain,nosuch"), ("'nosuch'", "plain, ", "iommu")),
        (("test", "--kvm", "maybe"), ("'maybe'", "auto, kvm, tcg")),
        (("vm-test", "--kernel", "./no/such/tree"), ("'./no/such/tree'", "kernel.release")),
    ],
)
def test_a_bad_argument_gets_one_line_before_any_work(
    args: tuple[str, ...], named: tuple[str, ...]
) -> None:
    start = time.monotonic()
    done = invoke(*args)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert all(word in errors[0] for word in named), errors[0]
    assert "Traceback" not in done.stderr
    assert "building" not in done.stdout + done.stderr
    assert time.monotonic() - start < 30


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="needs apt's package lists")
def test_an_unknown_kernel_lists_the_kernels_there_are() -> None:
    done = invoke("vm-test", "--kernel", "9.9")
    assert done.returncode == 2
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "'9.9'" in error
    assert re.search(r"6\.1 \(newest 6\.1\.\d+-\d+\)", error) or "apt-get update" in error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--bufsize", "abc", "--buffers", "1"],
            "argument --bufsize: 'abc' is not an integer from 1",
        ),
        (["--bufsize", "1", "--buffers", "0"], "argument --buffers: '0' is not an integer from 1"),
        (["--bufsize", "9", "--buffers", "1", "--page-size", "1000"], "'1000' is not a page size"),
    ],
)
def test_layout_names_the_bad_value(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pyharness", "layout", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "_positive" not in done.stderr and "positive_integer" not in done.stderr


def kbuild_products(kmod: Path) -> list[Path]:
    """What kbuild leaves beside each module's sources (6.1 and 6.12 names)."""
    made = []
    for source in kmod.rglob("*.c"):
        d, stem = source.parent, source.stem
        made += [d / f"{stem}.o", d / f".{stem}.o.cmd", d / f".{stem}.o.d"]
    for kbuild_file in kmod.rglob("Kbuild"):
        d = kbuild_file.parent
        module = d.name
        made += [d / f"{module}.ko", d / f"{module}.mod", d / f"{module}.mod.c"]
        made += [d / f"{module}.mod.o", d / f".{module}.ko.cmd", d / f".{module}.mod.cmd"]
        made += [d / "modules.order", d / ".modules.order.cmd"]
    made += [kmod / "Module.symvers", kmod / ".Module.symvers.cmd", kmod / ".module-common.o"]
    made += [kmod / "..module-common.o.cmd", kmod / "modules.order"]
    return made


def test_make_clean_without_kernel_headers_removes_every_kbuild_product(tmp_path: Path) -> None:
    kmod = tmp_path / "kmod"
    shutil.copytree(ROOT / "kmod", kmod, ignore=shutil.ignore_patterns(*kbuild.PRODUCTS))
    sources = sorted(p for p in kmod.rglob("*") if p.is_file())
    for product in kbuild_products(kmod):
        product.write_text("kbuild product\n")
    done = subprocess.run(
        ["make", "-C", str(kmod), "clean", f"KDIR={tmp_path}/no-headers"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p for p in kmod.rglob("*") if p.is_file()) == sources


def test_the_harness_and_make_clean_know_the_same_products() -> None:
    makefile = (ROOT / "kmod" / "Makefile").read_text()
    block = re.search(r"^PRODUCTS :=(.*?)\n#", makefile, re.M | re.S)
    linked = re.search(r"^LINKED := (.*)$", makefile, re.M)
    assert block is not None and linked is not None
    products = set(re.findall(r"'([^']+)'", block.group(1)))
    products |= {f"himemlink/{name}" for name in linked.group(1).split()}
    assert products == set(kbuild.PRODUCTS)


def test_make_works_from_another_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "-n", "-f", str(ROOT / "Makefile"), "lint"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{ROOT}/scripts/bootstrap.sh" in done.stdout
    assert f"cd {ROOT} && .venv/bin/invoke lint" in done.stdout


def test_kmod_targets_without_headers_say_what_to_install() -> None:
    for target in ("modules", "check"):
        done = subprocess.run(
            ["make", "-C", str(ROOT / "kmod"), target, "KDIR=/nonexistent"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode != 0
        assert "install the headers" in done.stdout, target


def test_the_source_mirror_rewrites_only_what_changed(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "m").mkdir(parents=True)
    (src / "m" / "a.c").write_text("int a;\n")
    (src / "m" / "b.c").write_text("int b;\n")
    (src / "m" / "a.o").write_text("a product, never mirrored\n")
    assert sorted(kbuild.sync_sources(src, dest)) == ["m/a.c", "m/b.c"]
    assert not (dest / "m" / "a.o").exists()
    old = time.time() - 3600
    for name in ("a.c", "b.c"):
        os.utime(dest / "m" / name, (old, old))
    (dest / "m" / "b.o").write_text("object\n")
    assert kbuild.sync_sources(src, dest) == []
    assert (dest / "m" / "a.c").stat().st_mtime == old  # kbuild sees nothing new
    (src / "m" / "b.c").write_text("int b = 1;\n")
    (src / "m" / "a.c").unlink()
    assert kbuild.sync_sources(src, dest) == ["m/b.c", "m/a.c (removed)"]
    assert (dest / "m" / "b.c").stat().st_mtime > old
    assert (dest / "m" / "b.o").exists()  # kbuild decides what to rebuild


@pytest.fixture
def cached_kernel(tmp_path: Path) -> tuple[kernels.KernelTree, Paths]:
    """Kernel 6.1 from the cache, and paths that build into tmp_path."""
    paths = Paths(root=ROOT, cache=Paths.default().cache, build=tmp_path)
    try:
        return kernels.resolve(kernels.DEFAULT_KERNEL, paths, fetch=False), paths
    except KernelFetchError:
        pytest.skip("kernel 6.1 is not cached yet (the first vm-test or lint fetches it)")


def test_a_second_build_with_nothing_changed_recompiles_nothing(
    cached_kernel: tuple[kernels.KernelTree, Paths], capsys: pytest.CaptureFixture[str]
) -> None:
    """What a second `make vm-test` (or each lane of `invoke test`) does first:
    the same sources, kernel and options, so no make at all; without the
    stamp, kbuild runs and finds the modules up to date."""
    tree, paths = cached_kernel
    first = kbuild.build(tree, paths)
    stamps = {ko: ko.stat().st_mtime_ns for ko in first.modules.values()}
    objects = {o: o.stat().st_mtime_ns for o in first.directory.rglob("*.o")}
    capsys.readouterr()
    second = kbuild.build(tree, paths)
    err = capsys.readouterr().err
    assert "modules built already" in err and "$ make" not in err, err
    assert second.modules == first.modules
    (first.directory / kbuild.STAMP).unlink()
    third = kbuild.build(tree, paths)
    err = capsys.readouterr().err
    assert "$ make" in err and "nothing recompiled" in err, err
    assert {ko: ko.stat().st_mtime_ns for ko in third.modules.values()} == stamps
    assert {o: o.stat().st_mtime_ns for o in third.directory.rglob("*.o")} == objects
    assert (first.directory / kbuild.STAMP).is_file()
    third.modules["mdma"].unlink()  # a module gone: the stamp alone does not do
    fourth = kbuild.build(tree, paths)
    assert "$ make" in capsys.readouterr().err
    assert fourth.modules["mdma"].is_file()


def test_the_production_build_carries_no_test_hook(
    cached_kernel: tuple[kernels.KernelTree, Paths],
) -> None:
    """What `make` builds for users has no test parameter or symbol; the test
    build has them (kbuild.check_production raises otherwise)."""
    tree, paths = cached_kernel
    production = kbuild.check_production(tree, paths)
    assert all(kbuild.test_hooks_in(ko) == [] for ko in production.modules.values())
    assert set(production.modules) == {"mdma", "masterdev", "allocator", "himemlink"}
    tested = kbuild.build(tree, paths)
    assert "parameter test_layout_bug" in kbuild.test_hooks_in(tested.modules["mdma"])
    assert "parameter inject_warn" in kbuild.test_hooks_in(tested.modules["masterdev"])


def test_sigterm_kills_the_guest_with_the_harness(tmp_path: Path) -> None:
    """A cancelled CI job (SIGTERM to invoke) leaves no QEMU behind: the
    runner's child group dies with it, as on Ctrl-C."""
    marker = tmp_path / "child.pid"
    code = (
        "import tasks\n"
        "from pyharness.runner import run\n"
        f"run(['sh', '-c', 'echo $$ > {marker}; exec sleep 300'], check=False)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while not marker.exists() or not marker.read_text().strip():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.1)
    child = int(marker.read_text())
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists():
        assert time.monotonic() < deadline, f"child {child} outlived the harness"
        time.sleep(0.1)


@pytest.mark.parametrize("timeout", ["inf", "nan", "1e-9", "0", "86401"])
def test_a_timeout_is_a_sane_number_of_seconds(timeout: str) -> None:
    done = invoke("vm-test", "--timeout", timeout)
    assert done.returncode == 2
    assert f"--timeout '{timeout}': give a number of seconds from 1 to 86400" in done.stderr
