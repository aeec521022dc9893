"""The repository stands alone: no tracked file points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A path that leaves the clone: a parent directory's files, or this machine's
# (spelled in two parts so that this file does not match itself).
# An absolute path starts a word (not ~/.cache/.../root/usr, a path inside a cache).
OUTSIDE = re.compile(r"\.\./shared|(?:^|[\s\"'`(=])/(?:" + "work|root|home|tmp" + r")/")
# Records of real runs, kept as they were printed: data, not references.
RECORDS = ("tests/host/logs/", "tests/host/data/", "docs/maps/")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed if not name.startswith(RECORDS)]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked_text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_the_design_is_in_the_repository() -> None:
    design = ROOT / "docs" / "design.md"
    assert "## 2. The ring allocator" in design.read_text()
    assert "docs/design.md" in (ROOT / "README.md").read_text()
