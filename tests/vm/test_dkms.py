"""DKMS, modprobe and modinfo, as a user installs the modules.

The host built the production modules with DKMS from dkms.conf for this
kernel and packed them with `dkms mktarball --binaries-only`
(pyharness/host/dkms.py: compiling in the guest takes about 20 minutes under TCG).
Here `dkms ldtarball` and `dkms install` put them into
/lib/modules/<release>/updates/dkms, depmod records that masterdev needs
mdma, `modprobe masterdev` loads both, modinfo shows the installed production
modules, and `dkms remove` takes them away.  With `invoke vm-test --dkms`,
`make dkms-install` also compiles them in the guest, as on a user's machine.
Everything is written into a tmpfs: overlays over /usr/src and
/var/lib/dkms, and over /lib/modules/<release> a copy of its module metadata
without the kernel's own modules (depmod would read all 4 000, 4 to 5
minutes under TCG each time): the guest's root is the host's (shared
read-only), and /lib/modules/<release> the harness's kernel cache, neither
of which an install may touch.  Plain
profile only (once per kernel); the run's own test-build modules are loaded
again after.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyharness.guest import guestkit
from pyharness.model import dkmsconf
from pyharness.model.plan import Plan
from pyharness.runner import sbin

ROOT = Path(__file__).parents[2]
RELEASE = platform.release()
WRITTEN = ("/usr/src", "/var/lib/dkms")
RELEASE_DIR = f"/lib/modules/{RELEASE}"
INSTALLED = ("mdma", "masterdev", "allocator", "himemlink")
VERSION = dkmsconf.version(ROOT / "dkms.conf")


def mount_kind(path: str) -> str:
    """The type of the filesystem path lies on, from /proc/self/mountinfo
    (which names real paths: /lib is /usr/lib on a merged-/usr system)."""
    path = os.path.realpath(path)
    best, kind = "", ""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point, fstype = fields[4], fields[fields.index("-") + 1]
        # the last of equal mount points is the one on top
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fstype
    return kind


@contextlib.contextmanager
def in_memory(paths: tuple[str, ...], release_dir: str) -> Iterator[None]:
    """Each path writable, its writes kept in a tmpfs (overlayfs: the path
    as it was below, a tmpfs directory above), unmounted after.

    release_dir (/lib/modules/<release>) gets the kernel's module metadata
    (modules.order, modules.builtin...) without the kernel's own modules:
    depmod reads every module of the tree, 4 000 of them, which takes 12 s on
    the host and 4 to 5 minutes under TCG, twice (install and remove); the
    modules it has to resolve are ours.
    """
    with contextlib.ExitStack() as stack:
        scratch = tempfile.mkdtemp(prefix="dkms-")
        run("mount", "-t", "tmpfs", "dkms-overlays", scratch)
        stack.callback(subprocess.run, ["umount", scratch], check=False)
        for number, path in enumerate(paths):
            upper, work = f"{scratch}/{number}/upper", f"{scratch}/{number}/work"
            os.makedirs(upper)
            os.makedirs(work)
            options = f"lowerdir={path},upperdir={upper},workdir={work}"
            run("mount", "-t", "overlay", "overlay", "-o", options, path)
            stack.callback(subprocess.run, ["umount", path], check=False)
            assert mount_kind(path) == "overlay", path
        metadata = Path(scratch, "release")
        metadata.mkdir()
        for entry in Path(release_dir).iterdir():
            if entry.is_symlink():
                (metadata / entry.name).symlink_to(os.readlink(entry))
            elif entry.is_file():
                shutil.copy2(entry, metadata / entry.name)
        run("mount", "--bind", str(metadata), release_dir)
        stack.callback(subprocess.run, ["umount", release_dir], check=False)
        assert mount_kind(release_dir) == "tmpfs", release_dir
        yield


pytestmark = [
    pytest.mark.skipif(shutil.which("dkms") is None and not sbin("dkms"), reason="no dkms"),
]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def without_the_runs_modules(plan: Plan, module_paths: dict[str, Path]) -> Iterator[None]:
    """The run's masterdev and mdma out while the installed ones are tried,
    and back after, with the profile's parameters.  Skips first where the
    test does not run."""
    if plan.profile != "plain":
        pytest.skip("once per kernel: the plain profile")
    for spec in reversed(plan.modules):
        removed = guestkit.rmmod(spec.name)
        assert removed.ok, removed.output
    try:
        yield
    finally:
        for name in ("masterdev", "mdma"):
            if guestkit.loaded(name):
                guestkit.rmmod(name)
        for spec in plan.modules:
            inserted = guestkit.insmod(module_paths[spec.name], *spec.params)
            assert inserted.ok, inserted.output


def test_dkms_installs_the_hosts_build_modprobe_loads_and_dkms_removes(
    plan: Plan, without_the_runs_modules: None
) -> None:
    if not plan.dkms_tarball:  # a host with dkms builds one or stops the run
        pytest.skip("no DKMS tarball in this run (a LAVA suite, or a host without dkms)")
    module = f"masterdma/{VERSION}"

    def install() -> None:
        loaded = subprocess.run(
            ["dkms", "ldtarball", plan.dkms_tarball], capture_output=True, text=True, check=False
        )
        # DKMS 3.0 exits 1 after loading a binaries-only tarball when no source
        # is in /usr/src (dkms-project/dkms#362): what it loaded is judged instead
        assert loaded.returncode in (0, 1), loaded.stdout + loaded.stderr
        status = run("dkms", "status", module, "-k", RELEASE).stdout
        assert f"{module}, {RELEASE}, {platform.machine()}: built" in status, (
            loaded.stdout + loaded.stderr + status
        )
        run("dkms", "install", module, "-k", RELEASE)

    def remove() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["dkms", "remove", module, "--all"], capture_output=True, text=True, check=False
        )

    masterdev = next(spec for spec in plan.modules if spec.name == "masterdev")
    with in_memory(WRITTEN, RELEASE_DIR):
        installed_and_removed(masterdev.params, install, remove)


def test_make_dkms_install_compiles_in_the_guest(
    request: pytest.FixtureRequest, plan: Plan, without_the_runs_modules: None
) -> None:
    if not request.config.getoption("--dkms"):
        pytest.skip("DKMS compiles in the guest (20 min under TCG): invoke vm-test --dkms")
    if not plan.headers or not Path(plan.headers, "Makefile").exists():
        pytest.skip(f"no build tree for {RELEASE} in the guest")
    flags = f"KREL={RELEASE}", f"DKMS_FLAGS=--kernelsourcedir {plan.headers}"

    def install() -> None:
        run("make", "-C", str(ROOT), "dkms-install", *flags)

    def remove() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "-C", str(ROOT), "dkms-remove", *flags],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    masterdev = next(spec for spec in plan.modules if spec.name == "masterdev")
    with in_memory(WRITTEN, RELEASE_DIR):
        installed_and_removed(masterdev.params, install, remove)
    assert not Path(f"/usr/src/masterdma-{VERSION}").exists()


def installed_and_removed(
    params: tuple[str, ...],
    install: Callable[[], None],
    remove: Callable[[], subprocess.CompletedProcess[str]],
) -> None:
    """Install, check what DKMS, depmod, modprobe and modinfo say, remove,
    and check nothing is left."""
    try:
        install()
        status = run("dkms", "status", "-k", RELEASE).stdout
        assert f"masterdma/{VERSION}, {RELEASE}" in status and "installed" in status, status
        run(sbin("modprobe") or "modprobe", "masterdev", *params)
        assert guestkit.loaded("mdma"), "depmod did not record masterdev's need of mdma"
        for name in INSTALLED:
            info = run(sbin("modinfo") or "modinfo", "-k", RELEASE, name).stdout
            fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
            assert f"/lib/modules/{RELEASE}/updates/dkms/" in fields["filename"], info
            assert fields["vermagic"].split()[0] == RELEASE, info
            assert "test_" not in info, f"a test hook in the installed {name}:\n{info}"
        run(sbin("modprobe") or "modprobe", "-r", "masterdev", "mdma")
    finally:
        removed = remove()
    assert removed.returncode == 0, removed.stderr
    assert "masterdma" not in run("dkms", "status").stdout
    left = list(Path(f"/lib/modules/{RELEASE}").rglob("masterdev.ko*"))
    assert not left, left
