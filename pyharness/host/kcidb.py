"""A VM run's results as a KCIDB report, the KernelCI database's I/O format.

One checkout (this repository's commit), one build per kernel (our modules
built against that kernel's headers), and one test per guest test, below
the path ``masterdma.<file>.<function>[.<parameters>]``, plus
``masterdma.boot`` (the boot, its console log as an output file) and
``masterdma.kernel_log`` (the harness's verdict on the kernel log).  The
schema is kcidb-io's latest (v5), which ``validate()`` checks; file URLs
point into the run directory, which a CI job uploads beside the report: at
``Run.files_url`` when given (MASTERDMA_RUNS_URL), else as file:// URLs.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import ktap

ORIGIN = "masterdma"
FILE_NAME = "kcidb.json"
STATUS = {"ok": "PASS", "not ok": "FAIL", "skip": "SKIP"}
UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Run:
    """What the report says about one boot; times in seconds."""

    commit: str  # 40 hex digits, or "" outside a git checkout
    dirty: bool
    kernel: str  # the release, e.g. 6.1.0-57-amd64
    profile: str
    accel: str
    run_dir: Path
    started: datetime.datetime
    duration: float
    booted: bool  # the guest wrote its result file
    kernel_log_problems: tuple[str, ...] = ()
    files_url: str = ""  # where run_dir is served; "" for file:// URLs

    def url(self, path: Path) -> str:
        """The URL of a file of the run directory."""
        if self.files_url:
            relative = urllib.parse.quote(path.relative_to(self.run_dir).as_posix())
            return f"{self.files_url.rstrip('/')}/{relative}"
        return path.resolve().as_uri()


def checkout(root: Path) -> tuple[str, bool]:
    """The full commit hash of root and whether tracked files differ from it;
    ("", False) outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "", False
    return head, bool(status)


def path_part(name: str) -> str:
    """A name as one part of KCIDB's dot-separated test path ([A-Za-z0-9_-]):
    the unsafe characters become ``_``, and a name that changed gets a short
    hash of itself, so that ``a.b`` and ``a/b`` stay two tests."""
    safe = UNSAFE.sub("_", name) or "_"
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def report(run: Run, cases: list[ktap.Case]) -> dict[str, Any]:
    """The KCIDB v5 report of one boot."""
    revision = (run.commit or "unknown") + ("-dirty" if run.dirty else "")
    checkout_id = f"{ORIGIN}:{revision}"
    build_id = f"{ORIGIN}:{revision}-{run.kernel}"
    started = run.started.isoformat(timespec="seconds")
    where = "this machine, no VM" if run.accel == "native" else f"QEMU ({run.accel})"
    environment = {"comment": f"{where}, profile {run.profile}"}
    prefix = f"{ORIGIN}:{run.run_dir.name}"
    checkout_entry: dict[str, Any] = {
        "id": checkout_id,
        "origin": ORIGIN,
        "tree_name": ORIGIN,
        "start_time": started,
        "valid": True,
        "comment": "the masterdma repository" + (", with uncommitted changes" if run.dirty else ""),
    }
    if run.commit:
        checkout_entry["git_commit_hash"] = run.commit
    tests: list[dict[str, Any]] = []

    def test(path: str, status: str, **extra: Any) -> None:
        tests.append(
            {
                "id": f"{prefix}:{path}",
                "build_id": build_id,
                "origin": ORIGIN,
                "path": path,
                "status": status,
                "environment": environment,
                "start_time": started,
                **extra,
            }
        )

    console = run.run_dir / "console.log"
    boot_files = [
        {"name": p.name, "url": run.url(p)}
        for p in (console, run.run_dir / "kmsg.txt")
        if p.exists()
    ]
    test(f"{ORIGIN}.boot", "PASS" if run.booted else "FAIL", output_files=boot_files,
         duration=run.duration)  # fmt: skip
    problems = "; ".join(run.kernel_log_problems)
    test(f"{ORIGIN}.kernel_log", "FAIL" if problems else "PASS",
         **({"log_excerpt": problems[:16384]} if problems else {}))  # fmt: skip
    junit = run.run_dir / "junit.xml"
    for top in cases:
        if top.name == ktap.KERNEL_LOG:  # the test above, with its excerpt
            continue
        for names, leaf in top.walk():
            extra: dict[str, Any] = {"duration": leaf.seconds}
            if leaf.message:
                extra["log_excerpt"] = leaf.message[:16384]
            if junit.exists():
                extra["log_url"] = run.url(junit)
            path = ".".join((ORIGIN, *(path_part(n) for n in names)))
            test(path, STATUS[leaf.outcome], **extra)
    ids = [entry["id"] for entry in tests]
    if len(set(ids)) != len(ids):
        raise ValueError(f"test ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    return {
        "version": {"major": 5, "minor": 3},
        "checkouts": [checkout_entry],
        "builds": [
            {
                "id": build_id,
                "checkout_id": checkout_id,
                "origin": ORIGIN,
                "architecture": "x86_64",
                "config_name": "masterdma test build",
                "comment": f"mdma, masterdev, allocator and the test modules for {run.kernel}",
                "start_time": started,
                "status": "PASS",
            }
        ],
        "tests": tests,
    }


def validate(data: dict[str, Any]) -> None:
    """Raise ValueError, with the schema's complaint, unless data is a valid
    KCIDB v5.3 report (kcidb-io's schema, through jsonschema).  report()
    itself refuses repeated test ids, which the schema does not check."""
    import jsonschema  # noqa: PLC0415  (host-only dependencies, loaded when used)
    import kcidb_io  # noqa: PLC0415

    try:
        kcidb_io.schema.V5_3.validate(data)
    except jsonschema.ValidationError as err:
        raise ValueError(f"{err.message} at {'/'.join(map(str, err.absolute_path))}") from err


def write(run: Run, cases: list[ktap.Case]) -> Path:
    """run_dir/kcidb.json, validated before it is written."""
    data = report(run, cases)
    validate(data)
    out = run.run_dir / FILE_NAME
    out.write_text(json.dumps(data, indent=1) + "\n")
    return out


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
