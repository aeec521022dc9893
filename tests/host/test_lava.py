"""LAVA jobs: tuxlava's QEMU job with the profile's machine, and the overlay
the job names, whose plan the guest runner follows."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from pyharness.config import Paths
from pyharness.host import lava, profiles
from pyharness.host.vmtest import MODULES, ON_DEMAND

URLS = lava.Urls("https://lab.example.org/masterdma", "https://lab.example.org/rootfs.ext4.xz")


def test_qemu_options_keep_each_value_with_its_option() -> None:
    assert lava.qemu_options(profiles.get("plain")) == [
        "-machine max-ram-below-4g=256M",
        "-device edu",
    ]
    assert lava.qemu_options(profiles.get("users")) == ["-device edu,dma_mask=0xffffffff"]


def test_a_job_boots_the_profiles_machine_and_runs_the_suite() -> None:
    job = lava.job("6.1.0-57-amd64", profiles.get("himem"), URLS)
    assert job["device_type"] == "qemu"
    assert job["job_name"] == "masterdma 6.1.0-57-amd64 himem"
    assert job["context"]["memory"] == "512M"
    assert "-device edu,dma_mask=0xffffffff" in job["context"]["extra_options"]
    images = job["actions"][0]["deploy"]["images"]
    assert images["kernel"]["url"] == f"{URLS.base}/6.1.0-57-amd64/vmlinuz"
    assert "mem=440M" in images["kernel"]["image_arg"]
    assert images["rootfs"]["url"] == URLS.rootfs
    overlays = images["rootfs"]["overlays"]
    assert overlays["modules"]["url"] == URLS.modules("6.1.0-57-amd64")
    assert overlays["overlay-00"]["url"] == URLS.suite("6.1.0-57-amd64", "himem")
    steps = job["actions"][2]["test"]["definitions"][0]["repository"]["run"]["steps"]
    assert any(lava.COMMAND in step for step in steps)


def test_jobs_leave_out_the_profiles_without_guest_tests(tmp_path: Path) -> None:
    jobs = lava.write_jobs(["6.12.117+deb12-amd64"], ["plain", "bench"], URLS, tmp_path)
    assert [p.name for p in jobs] == ["6.12.117+deb12-amd64-plain.yaml"]


def test_the_overlay_holds_the_suite_the_modules_and_their_plan(tmp_path: Path) -> None:
    root = Path(__file__).parents[2]
    paths = Paths(root=root, cache=tmp_path / "cache", build=tmp_path / "build")
    (paths.build / "uapi").mkdir(parents=True)
    modules = {}
    for name in (*MODULES, *ON_DEMAND):
        modules[name] = tmp_path / f"{name}.ko"
        modules[name].write_bytes(b"\x7fELF")
    out = lava.write_suite(paths, profiles.get("users"), modules, tmp_path / "suite.tar.gz")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        plan = json.load(tar.extractfile("opt/masterdma/run/plan.json"))  # type: ignore[arg-type]
        script = tar.extractfile("opt/masterdma/run/lava.sh").read().decode()  # type: ignore[union-attr]
    assert "opt/masterdma/pyharness/guest/__main__.py" in names
    assert "opt/masterdma/tests/vm/test_rings.py" in names
    assert "opt/masterdma/kmod/include/uapi/master_dma.h" in names  # uapi.load() reads it
    assert "opt/masterdma/dkms.conf" in names  # test_dkms.py's version, at collection
    assert not [n for n in names if "__pycache__" in n]
    assert [m["path"] for m in plan["modules"]] == [
        f"{lava.RUN_DIR}/modules/{name}.ko" for name in MODULES
    ]
    assert plan["modules"][1]["params"] == ["edu_dma_bits=32"]  # the users profile's masterdev
    assert plan["on_demand"] == [f"{lava.RUN_DIR}/modules/{name}.ko" for name in ON_DEMAND]
    assert plan["tests"] == ["tests/vm"]
    assert plan["pytest_args"] == ["--fuzz-count", "25000"]  # the users profile's, as locally
    assert f"python3 -m pyharness.guest {lava.RUN_DIR}" in script
