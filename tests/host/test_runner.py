"""The one command runner: output, logs, errors, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyharness.errors import CommandError
from pyharness.runner import run


def test_output_is_returned_and_logged(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    done = run(["sh", "-c", "echo one; echo two >&2"], log=log, echo=False)
    assert done.ok
    assert sorted(done.output.split()) == ["one", "two"]
    assert log.read_text() == done.output


def test_failure_raises_with_output() -> None:
    with pytest.raises(CommandError) as info:
        run(["sh", "-c", "echo bad; exit 3"], echo=False)
    assert info.value.returncode == 3
    assert info.value.output == "bad\n"


def test_timeout_kills_the_whole_group() -> None:
    start = time.monotonic()
    # the child keeps stdout open: only killing the group ends the read
    done = run(["sh", "-c", "sleep 300 & sleep 300"], timeout=1, check=False, echo=False)
    assert done.timed_out
    assert time.monotonic() - start < 10


def test_echo_transform(capsys: pytest.CaptureFixture[str]) -> None:
    run(["printf", "keep\\ndrop\\n"], echo=lambda line: line if "keep" in line else "")
    assert capsys.readouterr().out == "keep\n"
