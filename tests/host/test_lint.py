"""Lint looks at our C sources only."""

from __future__ import annotations

from pathlib import Path

from pyharness.config import Paths
from pyharness.host import lint


def test_lint_skips_what_kbuild_generated(tmp_path: Path) -> None:
    kmod = tmp_path / "kmod" / "mdma"
    kmod.mkdir(parents=True)
    for name in ("mdma.c", "mdma.h", "mdma.mod.c", ".module-common.c", "Kbuild"):
        (kmod / name).write_text("")
    paths = Paths(root=tmp_path, cache=tmp_path / "cache", build=tmp_path / "build")
    assert [p.name for p in lint.c_sources(paths)] == ["mdma.c", "mdma.h"]
