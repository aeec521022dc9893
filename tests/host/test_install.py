"""make install / uninstall and the DKMS package: what users build is the
production build, installed where modprobe finds it, and removed again.

The install runs against the host's own headers when they are there
(/lib/modules/$(uname -r)/build), else against a kernel the harness has cached,
into a staging root (INSTALL_MOD_PATH), from a copy of the sources.  DKMS
builds the tarball the guest installs (tests/vm/test_dkms.py) in private trees.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from pyharness.config import Paths
from pyharness.errors import HarnessError
from pyharness.host import dkms, kbuild, kernels
from pyharness.model import dkmsconf

ROOT = Path(__file__).parents[2]


def production_modules() -> set[str]:
    """kmod/Kbuild's obj-m outside the MASTERDMA_TEST block."""
    kbuild = (ROOT / "kmod" / "Kbuild").read_text().split("ifeq")[0]
    return set(re.findall(r"(\w+)/", " ".join(re.findall(r"^obj-m \+= (.*)$", kbuild, re.M))))


def test_dkms_conf_names_every_production_module_and_the_version() -> None:
    conf = dkmsconf.read(ROOT / "dkms.conf")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert conf["PACKAGE_VERSION"] == project["version"]
    built = {v for k, v in conf.items() if k.startswith("BUILT_MODULE_NAME")}
    assert built == production_modules() == {"mdma", "masterdev", "allocator", "himemlink"}
    for key, value in conf.items():
        if key.startswith("BUILT_MODULE_LOCATION"):
            name = conf[key.replace("LOCATION", "NAME")]
            assert value == f"kmod/{name}/"
    assert "MASTERDMA_TEST= " in conf["MAKE[0]"]  # never a test build, whatever the env says


def build_tree() -> Path | None:
    """The host's headers, else a cached Debian 6.1, else None."""
    host = Path("/lib/modules") / os.uname().release / "build"
    if (host / "Makefile").exists():
        return host
    try:
        tree = kernels.resolve(kernels.DEFAULT_KERNEL, Paths.default(), fetch=False)
    except HarnessError:  # not cached: nothing to build against
        return None
    return tree.build_dir if (tree.build_dir / "Makefile").exists() else None


def test_make_install_and_uninstall_into_a_staging_root(tmp_path: Path) -> None:
    kdir = build_tree()
    if kdir is None:
        pytest.skip("no kernel headers on the host and no cached kernel")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("Makefile", "dkms.conf"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "kmod", source / "kmod", ignore=shutil.ignore_patterns("*.o", "*.ko"))
    staging = tmp_path / "root"
    env = {**os.environ, "MASTERDMA_TEST": "1"}  # ignored: install is a production build

    def make(target: str, where: Path = source, ok: bool = True) -> str:
        done = subprocess.run(
            ["make", "-C", str(where), target, f"KDIR={kdir}", f"INSTALL_MOD_PATH={staging}"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done.stdout + done.stderr

    # kmod/'s own install, with MASTERDMA_TEST=1 in the environment: refused
    assert "never installed" in make("install", source / "kmod", ok=False)
    assert not staging.exists()

    make("install")
    (release,) = [p.name for p in (staging / "lib" / "modules").iterdir()]
    updates = staging / "lib" / "modules" / release / "updates"
    installed = {p.name.split(".ko")[0] for p in updates.rglob("*.ko*")}
    assert installed == production_modules()
    dep = (staging / "lib" / "modules" / release / "modules.dep").read_text()
    assert re.search(r"^updates/masterdev/masterdev\.ko: updates/mdma/mdma\.ko$", dep, re.M), dep
    params = subprocess.run(
        ["/sbin/modinfo", "-F", "parm", str(next(updates.rglob("mdma.ko*")))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "test_" not in params, params
    make("clean")  # uninstall needs no build: the release comes from KDIR
    make("uninstall")
    assert not list(updates.rglob("*.ko*"))
    assert "masterdev" not in (staging / "lib" / "modules" / release / "modules.dep").read_text()


def test_dkms_builds_the_production_modules_into_a_binaries_only_tarball(tmp_path: Path) -> None:
    """What the guest's DKMS test installs: DKMS's build from dkms.conf, in
    private trees, with no test hook in any module."""
    if not dkms.available():
        pytest.skip("no dkms on the host")
    try:
        kernel = kernels.resolve(kernels.DEFAULT_KERNEL, Paths.default(), fetch=False)
    except HarnessError:
        pytest.skip("no cached kernel to build against")
    status = ["dkms", "status"]
    before = subprocess.run(status, capture_output=True, text=True, check=False).stdout
    tarball = dkms.binary_tarball(kernel, Paths.default(), tmp_path)
    assert tarball.is_relative_to(tmp_path / "dkms")
    with tarfile.open(tarball) as packed:
        packed.extractall(tmp_path / "unpacked", filter="data")
    built = {ko.stem: ko for ko in (tmp_path / "unpacked").rglob("*.ko")}
    assert set(built) == production_modules()
    for ko in built.values():
        assert kbuild.test_hooks_in(ko) == [], ko
    # the host's own DKMS tree untouched
    assert subprocess.run(status, capture_output=True, text=True, check=False).stdout == before
