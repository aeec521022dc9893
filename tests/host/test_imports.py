"""The harness by where it runs: each module imports without the other side's
modules and dependencies (a page map drawn on the host once pulled in the
guest's cffi client through himem and layoutreport).

Every module of pyharness is named in exactly one group; each is imported in
a fresh interpreter in which the other side's modules and packages cannot be
imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

# The host pipeline: fetch, build, boot, judge, report, draw, lint, publish.
HOST = {
    "accel", "benchrun", "debugkernel", "dkms", "docs", "kbuild", "kcidb", "kernels", "lanes",
    "lava", "lint", "pagemap", "profiles", "report", "vm", "vmtest",
}  # fmt: skip
# What runs in the guest: the runner, the clients of our interfaces, the fault sweeps.
GUEST = {
    "__main__", "benchguest", "faults", "guest", "guestkit", "himem", "masterdev",
    "netlink", "physmem", "stat", "vmaccess",
}  # fmt: skip
# Pure models and parsers, read by both sides: the standard library only.
PURE = {
    "bench", "compare", "figures", "himemmodel", "kjudge", "ktap", "layout", "layoutreport",
    "mapcheck", "plan", "results",
}  # fmt: skip
# Used on both sides: the UAPI binding (cffi builds it on the host, the guest
# loads it), where things live, the one way to run a command, the errors.
BOTH = {"uapi", "config", "runner", "errors"}

GUEST_ONLY = ("pyroute2", "hypothesis")
HOST_ONLY = ("matplotlib", "numpy", "invoke", "kcidb_io", "jsonschema", "yaml", "sphinx",
             "virtme_ng", "tuxlava")  # fmt: skip
IMPORT = """
import importlib, importlib.abc, sys
blocked = set(sys.argv[2:])
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in blocked or name.split(".")[0] in blocked:
            raise ImportError(f"{name} imported")
sys.meta_path.insert(0, Block())
importlib.import_module(sys.argv[1])
"""


def test_every_module_is_in_one_group() -> None:
    modules = {p.stem for p in (ROOT / "pyharness").glob("*.py")} - {"__init__"}
    groups = [HOST, GUEST, PURE, BOTH]
    assert sum(len(g) for g in groups) == len(set().union(*groups))
    assert set().union(*groups) == modules


def imports(
    module: str, packages: tuple[str, ...], others: set[str]
) -> subprocess.CompletedProcess[str]:
    """Import pyharness.module with packages and the pyharness modules others blocked."""
    blocked = [*packages, *(f"pyharness.{m}" for m in sorted(others))]
    return subprocess.run(
        [sys.executable, "-c", IMPORT, f"pyharness.{module}", *blocked],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("module", sorted(HOST))
def test_a_host_module_needs_nothing_of_the_guest(module: str) -> None:
    done = imports(module, GUEST_ONLY, GUEST)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("module", sorted(GUEST))
def test_a_guest_module_needs_nothing_of_the_host(module: str) -> None:
    done = imports(module, HOST_ONLY, HOST)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("module", sorted(PURE))
def test_a_pure_module_needs_no_package(module: str) -> None:
    done = imports(module, (*GUEST_ONLY, *HOST_ONLY, "cffi"), HOST | GUEST | BOTH)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]
