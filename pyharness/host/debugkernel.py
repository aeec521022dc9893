"""The debug lane's kernel: Debian's linux-source-6.1 with KASAN, kmemleak, lockdep...

Built once into the cache (``<cache>/debug``): the source tarball comes from
``apt-get download linux-source-6.1``; ``virtme-configkernel --defconfig``
writes the minimal virtme config (x86_64 defconfig, 9p root, virtio console);
``pyharness/data/debug.config`` is applied on top of it, after virtme's own
items so that ours win, and every item of it is checked in the resulting
``.config``.  ``make -j<cores>`` then builds the image and Module.symvers in
``<cache>/debug/build``, a build tree like any other (``--kernel debug``
resolves to it).  ``kernel.json`` records a hash of the inputs (the fragment,
the source, virtme-ng, the compiler): the same inputs reuse the build; changed
ones reconfigure the same tree and kbuild rebuilds what changed.  The whole
make output is kept in ``<cache>/debug/build.log``; a progress line is printed
every ``PROGRESS_SECONDS``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from ..config import PROJECT_ROOT, Paths
from ..errors import CommandError, KernelFetchError
from ..runner import announce, run

NAME = "debug"
SOURCE_PACKAGE = "linux-source-6.1"
FRAGMENT = PROJECT_ROOT / "pyharness" / "data" / "debug.config"
MANIFEST = "kernel.json"
PROGRESS_SECONDS = 60.0


def directory(paths: Paths) -> Path:
    return paths.cache / NAME


def download_source(package: str, into: Path) -> Path:
    """apt-get download a linux-source package; return its tarball, kept in into.

    No root needed: dpkg-deb reads the package, nothing is installed.
    """
    into.mkdir(parents=True, exist_ok=True)
    sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory(dir=into) as tmp:
        work = Path(tmp)
        try:
            run(["apt-get", "download", "-q", *sandbox, package], cwd=work, inherit=True)
        except CommandError as err:
            raise KernelFetchError(f"apt-get download {package} failed ({err})") from err
        deb = next(work.glob("*.deb"))
        run(["dpkg-deb", "-x", deb, work / "root"], echo=False)
        tarball = next((work / "root/usr/src").glob("linux-source-*.tar.*"))
        dest = into / tarball.name
        os.replace(tarball, dest)
    return dest


def fragment_items(text: str) -> dict[str, str]:
    """CONFIG_X -> value ("n" for =n) of a config fragment; comments skipped."""
    items = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if not sep or not key.startswith("CONFIG_"):
                raise KernelFetchError(f"{FRAGMENT}: not a config item: {line!r}")
            items[key] = value
    return items


def config_items(text: str) -> dict[str, str]:
    """CONFIG_X -> value of a .config; "is not set" reads as "n"."""
    items = {}
    for line in text.splitlines():
        if m := re.fullmatch(r"(CONFIG_\w+)=(.*)", line):
            items[m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"# (CONFIG_\w+) is not set", line):
            items[m.group(1)] = "n"
    return items


def refused(want: dict[str, str], have: dict[str, str]) -> list[str]:
    """The fragment's items Kconfig did not take (a dependency missing, a typo)."""
    return [f"{k}={v} (got {have.get(k, 'n')})" for k, v in want.items() if have.get(k, "n") != v]


def _compiler() -> str:
    done = subprocess.run(["gcc", "--version"], check=False, capture_output=True, text=True)
    return done.stdout.split("\n")[0]


def inputs_hash(tarball: Path) -> str:
    h = hashlib.sha256()
    for part in (FRAGMENT.read_text(), tarball.name, version("virtme-ng"), _compiler()):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def cached(paths: Paths) -> dict[str, str] | None:
    """The manifest of a finished build, or None."""
    manifest = directory(paths) / MANIFEST
    if not manifest.exists():
        return None
    data: dict[str, str] = json.loads(manifest.read_text())
    return data if Path(data["image"]).exists() else None


def _tarball(paths: Paths) -> Path:
    found = sorted(directory(paths).glob(f"{SOURCE_PACKAGE}.tar.*"))
    if found:
        return found[0]
    announce(f"fetching {SOURCE_PACKAGE} (about 140 MB, once) for the debug kernel")
    return download_source(SOURCE_PACKAGE, directory(paths))


def _source(paths: Paths, tarball: Path) -> Path:
    src = directory(paths) / SOURCE_PACKAGE
    if not (src / "Makefile").exists():
        announce(f"unpacking {tarball.name}")
        shutil.rmtree(src, ignore_errors=True)
        run(["tar", "-xf", tarball, "-C", directory(paths)], echo=False)
    return src


def _configure(src: Path, out: Path) -> None:
    announce("configuring: virtme-configkernel --defconfig, then " + str(FRAGMENT.name))
    configkernel = Path(sys.executable).parent / "virtme-configkernel"
    run(
        [configkernel, "--defconfig", "--custom", FRAGMENT, f"O={out}"],
        cwd=src,
        echo=False,
        show=False,
    )
    config = out / ".config"
    with config.open("a") as f:  # virtme's own items came last: ours again, to win
        f.write("\n" + FRAGMENT.read_text())
    run(["make", "-s", "ARCH=x86", "olddefconfig"], cwd=out, echo=False, show=False)
    missing = refused(fragment_items(FRAGMENT.read_text()), config_items(config.read_text()))
    if missing:
        raise KernelFetchError(f"Kconfig refused items of {FRAGMENT}: {', '.join(missing)}")


class _Progress:
    """An echo filter for make: nothing per line, a line every PROGRESS_SECONDS."""

    def __init__(self, expected: int | None) -> None:
        self.start = self.last = time.monotonic()
        self.expected = expected
        self.compiled = 0

    def __call__(self, line: str) -> str:
        if line.startswith("  CC "):
            self.compiled += 1
        now = time.monotonic()
        if now - self.last < PROGRESS_SECONDS:
            return ""
        self.last = now
        of = f" of about {self.expected}" if self.expected else ""
        minutes = (now - self.start) / 60
        return f"==> debug kernel: {self.compiled}{of} files compiled, {minutes:.0f} min\n"


def build(paths: Paths, *, jobs: int | None = None) -> dict[str, str]:
    """Build (or reuse) the debug kernel; return its manifest.

    Raises KernelFetchError when the source cannot be fetched or Kconfig refuses
    an item, CommandError (with the log's path) when make fails.
    """
    dest = directory(paths)
    dest.mkdir(parents=True, exist_ok=True)
    tarball = _tarball(paths)
    want = inputs_hash(tarball)
    done = cached(paths)
    if done and done["inputs"] == want:
        return done
    src = _source(paths, tarball)
    out = dest / "build"
    out.mkdir(exist_ok=True)
    _configure(src, out)
    jobs = jobs or os.cpu_count() or 1
    log = dest / "build.log"
    expected = int(done["compiled"]) if done else None
    announce(
        f"building the debug kernel with make -j{jobs} (about 20 min on 2 cores the first "
        f"time; log: {log})"
    )
    log.unlink(missing_ok=True)
    progress = _Progress(expected)
    start = time.monotonic()
    try:
        run(["make", "ARCH=x86", f"-j{jobs}", "all"], cwd=out, log=log, echo=progress, show=False)
    except CommandError as err:
        tail = "\n".join(err.output.splitlines()[-30:])
        message = f"building the debug kernel failed; whole log: {log}\n{tail}"
        raise KernelFetchError(message) from err
    release = (out / "include/config/kernel.release").read_text().strip()
    manifest = {
        "name": NAME,
        "release": release,
        "build_dir": str(out),
        "image": str(out / "arch/x86/boot/bzImage"),
        "inputs": want,
        "source": tarball.name,
        "compiled": str(max(progress.compiled, expected or 0)),
        "build_seconds": f"{time.monotonic() - start:.0f}",
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    announce(f"debug kernel {release} built in {float(manifest['build_seconds']) / 60:.0f} min")
    return manifest
