"""Linters: ruff and mypy on Python; checkpatch --strict and sparse on C.

checkpatch.pl and kernel-doc come from Debian's linux-source package,
downloaded once (apt-get download, no root) and cached beside the kernels.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from . import debugkernel, kbuild, kernels
from .config import Paths
from .errors import CommandError, LintError
from .runner import announce, run

SOURCE_PACKAGE = debugkernel.SOURCE_PACKAGE
SCRIPTS = ("checkpatch.pl", "spelling.txt", "const_structs.checkpatch", "kernel-doc")


def kernel_scripts(paths: Paths) -> Path:
    """The directory holding checkpatch.pl and kernel-doc, fetched if needed.

    From the debug kernel's source tarball when that is cached; else the
    package is downloaded and only the scripts are kept.
    """
    dest = paths.cache / "tools" / SOURCE_PACKAGE / "scripts"
    if all((dest / name).exists() for name in SCRIPTS):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        work = Path(tmp)
        kept = sorted(debugkernel.directory(paths).glob(f"{SOURCE_PACKAGE}.tar.*"))
        if kept:
            tarball = kept[0]
        else:
            announce(f"fetching checkpatch, kernel-doc from {SOURCE_PACKAGE} (about 140 MB, once)")
            tarball = debugkernel.download_source(SOURCE_PACKAGE, work)
        top = tarball.name.split(".tar")[0]
        members = [f"{top}/scripts/{name}" for name in SCRIPTS]
        announce(f"extracting {', '.join(SCRIPTS)}")
        run(["tar", "-xf", tarball, "-C", work, *members], echo=False)
        for name in SCRIPTS:
            os.replace(work / top / "scripts" / name, dest / name)
    return dest


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
