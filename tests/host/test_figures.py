"""Figures recorded by VM tests reach the report, in order, with their units."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyharness.host.report import Report
from pyharness.model import figures


def test_recorded_figures_are_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTERDMA_RUN_DIR", str(tmp_path))
    figures.record("loopback asitx0 -> asirx0 1000x9588", 22.25, "MiB/s")
    figures.record("edu check asirx0 1000x9588", 91, "fragments")
    figures.record("swiotlb pool", "0x7c0d000-0xfc0d000")
    text = figures.render(tmp_path)
    lines = text.splitlines()
    assert lines[0].split() == ["loopback", "asitx0", "->", "asirx0", "1000x9588", "22.2", "MiB/s"]
    assert lines[1].endswith("91 fragments")
    assert lines[2].endswith("0x7c0d000-0xfc0d000")
    report = Report("6.1.0-56-amd64", "plain", "tcg", "test", figures=text)
    assert "Figures to watch" in report.text()
    assert "## Figures to watch" in report.markdown()


def test_no_figures_outside_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASTERDMA_RUN_DIR", raising=False)
    figures.record("anything", 1)
    assert figures.render(tmp_path) == ""
