"""The harness by where it runs: each package imports without the other side's
modules and dependencies (a page map drawn on the host once pulled in the
guest's cffi client through himem and layoutreport).

pyharness/host, pyharness/guest and pyharness/model are the groups; the four
modules at the top are used on both sides.  Each module is imported in a fresh
interpreter in which the other side's modules and packages cannot be imported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "pyharness"


def _group(name: str) -> set[str]:
    return {f"{name}.{p.stem}" for p in (PACKAGE / name).glob("*.py") if p.stem != "__init__"}


# The host pipeline: fetch, build, boot, judge, report, draw, lint, publish.
HOST = _group("host")
# What runs in the guest: the runner, the clients of our interfaces, the fault sweeps.
GUEST = _group("guest")
# Pure models and parsers, read by both sides: the standard library only.
PURE = _group("model")
# Used on both sides: the UAPI binding (cffi builds it on the host, the guest
# loads it), where things live, the one way to run a command, the errors; and
# the command line (python -m pyharness layout|stat|events), which runs where
# the modules are, so with the guest's clients.
BOTH = {"uapi", "config", "runner", "errors"}
CLI = {"__main__"}

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


def test_the_package_has_three_groups_and_the_shared_modules() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert top == BOTH | CLI
    groups = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert groups == {"host", "guest", "model"}
    assert HOST and GUEST and PURE


@pytest.mark.parametrize("module", sorted(BOTH))
def test_a_shared_module_needs_neither_side(module: str) -> None:
    done = imports(module, (*GUEST_ONLY, *HOST_ONLY), {"host", "guest"})
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


def test_the_command_line_needs_nothing_of_the_host() -> None:
    done = imports("__main__", HOST_ONLY, {"host"})
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


def imports(
    module: str, packages: tuple[str, ...], others: set[str]
) -> subprocess.CompletedProcess[str]:
    """Import pyharness.module with packages and pyharness's modules or groups others blocked."""
    blocked = [*packages, *(f"pyharness.{m}" for m in sorted(others))]
    return subprocess.run(
        [sys.executable, "-c", IMPORT, f"pyharness.{module}", *blocked],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("module", sorted(HOST))
def test_a_host_module_needs_nothing_of_the_guest(module: str) -> None:
    done = imports(module, GUEST_ONLY, {"guest"})
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("module", sorted(GUEST))
def test_a_guest_module_needs_nothing_of_the_host(module: str) -> None:
    done = imports(module, HOST_ONLY, {"host"})
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("module", sorted(PURE))
def test_a_pure_module_needs_no_package(module: str) -> None:
    done = imports(module, (*GUEST_ONLY, *HOST_ONLY, "cffi"), {"host", "guest", *BOTH})
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


def embedded_programs() -> list[tuple[str, ast.ImportFrom | ast.Import]]:
    """Imports of pyharness in the programs the guest tests run with
    ``python -c``: string constants of tests/vm and pyharness that parse as
    Python, which no host import and no linter ever sees."""
    found = []
    for path in sorted([*(ROOT / "tests" / "vm").glob("*.py"), *PACKAGE.rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if "import" not in node.value or "pyharness" not in node.value:
                continue
            try:
                program = ast.parse(node.value)
            except SyntaxError:
                continue  # prose (a docstring)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            for stmt in ast.walk(program):
                if isinstance(stmt, ast.ImportFrom | ast.Import):
                    found.append((where, stmt))
    return found


def test_programs_run_with_python_c_import_what_exists() -> None:
    programs = embedded_programs()
    assert programs, "no embedded program found: the scan is broken"
    for where, stmt in programs:
        if isinstance(stmt, ast.Import):
            targets = [alias.name for alias in stmt.names]
        elif stmt.module and stmt.module.split(".")[0] == "pyharness":
            targets = [stmt.module]
            for alias in stmt.names:
                if importlib.util.find_spec(f"{stmt.module}.{alias.name}") is not None:
                    targets.append(f"{stmt.module}.{alias.name}")
                else:
                    module = importlib.import_module(stmt.module)
                    assert hasattr(module, alias.name), f"{where}: {stmt.module}.{alias.name}"
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "pyharness":
                assert importlib.util.find_spec(target) is not None, f"{where}: {target}"
