"""Kernels to build against and boot: Debian packages, the host's, or a build tree.

Debian kernels are fetched with ``apt-get download`` and unpacked with
``dpkg-deb -x`` into a per-user cache, one directory per ABI, side by side:
nothing is installed into /boot or /lib/modules.  The headers package's
Makefile includes its ``-common`` tree by absolute path; the unpacker
rewrites that include to the cached copy.  A cached kernel is reused without
touching the network.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import Paths
from ..errors import CommandError, KernelFetchError
from ..runner import announce, run, sbin
from . import debugkernel

DEFAULT_KERNEL = "6.1"
FLAVOUR = "amd64"
MANIFEST = "kernel.json"


@dataclass(frozen=True)
class KernelTree:
    """A kernel the harness can build modules against and, with an image, boot."""

    name: str  # what the user asked for, resolved: "6.1.0-56", "host", a path
    release: str  # uname -r of that kernel
    build_dir: Path  # the directory kbuild's make -C takes
    image: Path | None  # bootable image; None when only headers are known
    origin: str  # "debian", "host", "tree" or "debug"

    @property
    def bootable(self) -> bool:
        return self.image is not None and self.image.exists()


def resolve(spec: str, paths: Paths, *, fetch: bool = True) -> KernelTree:
    """Turn --kernel SPEC into a KernelTree, fetching Debian packages when needed.

    A release as `uname -r` or `kernel --list-cached` prints it (6.1.0-57-amd64)
    names its ABI.  "debug" is the debug lane's kernel, built on first use
    (about 20 minutes; see debugkernel).
    """
    if spec == debugkernel.NAME:
        manifest = debugkernel.build(paths) if fetch else debugkernel.cached(paths)
        if manifest is None:
            raise KernelFetchError("no debug kernel yet: `invoke kernel --debug` builds it")
        return debug_kernel(manifest)
    tree = _local(spec, paths)
    if tree is not None:
        return tree
    if not fetch:
        raise KernelFetchError(f"kernel {spec} is not in the cache ({paths.kernels})")
    return fetch_debian(_abi_spec(spec), paths)


def check(spec: str, paths: Paths) -> None:
    """Raise KernelFetchError now if spec cannot resolve; download nothing.

    Run before any build or boot, so that a wrong --kernel costs no time.
    """
    if spec != debugkernel.NAME and _local(spec, paths) is None:
        latest_abi(_abi_spec(spec))


def _abi_spec(spec: str) -> str:
    return spec.removesuffix(f"-{FLAVOUR}")


def _local(spec: str, paths: Paths) -> KernelTree | None:
    """The kernel spec names without apt: the host's, a tree, or a cached one."""
    spec = _abi_spec(spec)
    if spec == "host":
        return host_kernel()
    if "/" in spec or Path(spec).is_dir():
        return tree_kernel(Path(spec))
    return _cached(paths, spec)


def host_kernel() -> KernelTree:
    release = platform.release()
    build = Path("/lib/modules") / release / "build"
    if not (build / "Makefile").exists():
        raise KernelFetchError(
            f"no headers for the running kernel {release}: install linux-headers-{release}"
        )
    image = Path("/boot") / f"vmlinuz-{release}"
    return KernelTree("host", release, build.resolve(), image if image.exists() else None, "host")


def tree_kernel(path: Path) -> KernelTree:
    path = path.resolve()
    release_file = path / "include/config/kernel.release"
    if not release_file.exists():
        raise KernelFetchError(f"{path} is not a configured kernel build tree (no kernel.release)")
    image = path / "arch/x86/boot/bzImage"
    release = release_file.read_text().strip()
    return KernelTree(str(path), release, path, image if image.exists() else None, "tree")


def debug_kernel(manifest: dict[str, str]) -> KernelTree:
    tree = tree_kernel(Path(manifest["build_dir"]))
    return KernelTree(debugkernel.NAME, tree.release, tree.build_dir, tree.image, "debug")


def _cached(paths: Paths, spec: str) -> KernelTree | None:
    """The newest cached kernel matching spec ("6.1" or an exact ABI)."""
    found = []
    for manifest in paths.kernels.glob(f"*/{MANIFEST}"):
        data = json.loads(manifest.read_text())
        if data["name"] == spec or _abi_matches(data["name"], spec):
            found.append(data)
    if not found:
        return None
    data = max(found, key=lambda d: _abi_key(d["name"]))
    image = Path(data["image"]) if data["image"] else None
    return KernelTree(data["name"], data["release"], Path(data["build_dir"]), image, "debian")


def _abi_matches(abi: str, spec: str) -> bool:
    return re.fullmatch(re.escape(spec) + r"\.\d+(?:-\d+|\+deb\d+)", abi) is not None


# A Debian kernel ABI: 6.1.0-57, 6.12.43+deb12 (not the cloud or rt flavours' names).
ABI = r"\d+\.\d+\.\d+(?:-\d+|\+deb\d+)"


def _abi_key(abi: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", abi))


def latest_abi(spec: str) -> str:
    """The newest Debian ABI for a series such as 6.1 or 6.12, from apt's lists."""
    names = run(["apt-cache", "pkgnames", "linux-headers-"], echo=False, show=False).output.split()
    pattern = re.compile(rf"linux-headers-({ABI})-{FLAVOUR}")
    abis = [m.group(1) for n in names if (m := pattern.fullmatch(n))]
    matching = [a for a in abis if a == spec or _abi_matches(a, spec)]
    if not matching:
        if not abis:
            raise KernelFetchError(
                f"apt's package lists name no linux-headers-*-{FLAVOUR}: on Debian bookworm "
                "run `sudo apt-get update`, or give 'host' or a build tree path"
            )
        raise KernelFetchError(f"no Debian kernel {spec}; {available(abis)}")
    return max(matching, key=_abi_key)


def available(abis: list[str]) -> str:
    """What can be asked for instead, from apt's ABIs: each series and its newest ABI."""
    newest: dict[str, str] = {}
    for abi in abis:
        series = ".".join(abi.split(".")[:2])
        if series not in newest or _abi_key(abi) > _abi_key(newest[series]):
            newest[series] = abi
    listed = ", ".join(f"{s} (newest {newest[s]})" for s in sorted(newest, key=_abi_key))
    return f"apt has {listed}; or give 'host' or a build tree path"


def _package_fields(package: str) -> dict[str, str]:
    out = run(["apt-cache", "show", "--no-all-versions", package], echo=False, show=False).output
    fields: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition(": ")
        if sep and not line.startswith(" "):
            fields[key] = value
    return fields


def packages_for(abi: str) -> list[tuple[str, int]]:
    """(package, size) of the image, headers, -common headers and kbuild of an ABI."""
    headers = f"linux-headers-{abi}-{FLAVOUR}"
    depends = _package_fields(headers).get("Depends", "")
    deps = [d.strip().split(" ")[0] for d in depends.split(",")]
    common = [d for d in deps if d.startswith("linux-headers-") and d.endswith("-common")]
    kbuild = [d for d in deps if d.startswith("linux-kbuild-")]
    if len(common) != 1 or len(kbuild) != 1:
        raise KernelFetchError(f"cannot find -common and kbuild packages in {headers}: {depends}")
    names = [f"linux-image-{abi}-{FLAVOUR}-unsigned", headers, common[0], kbuild[0]]
    return [(n, int(_package_fields(n).get("Size", "0"))) for n in names]


def fetch_debian(spec: str, paths: Paths) -> KernelTree:
    """Download and unpack a Debian kernel into the cache; return it."""
    abi = latest_abi(spec)
    release = f"{abi}-{FLAVOUR}"
    dest = paths.kernels / abi
    packages = packages_for(abi)
    total = sum(size for _, size in packages) / 1e6
    announce(f"fetching Debian kernel {release}: {len(packages)} packages, {total:.0f} MB")
    paths.kernels.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=paths.kernels, prefix=f".{abi}-"))
    try:
        debs = _download(packages, work / "debs")
        root = work / "root"
        for i, deb in enumerate(debs, 1):
            announce(f"[{i}/{len(debs)}] unpacking {deb.name}")
            run(["dpkg-deb", "-x", deb, root], echo=False)
        build_dir = _fix_headers(root, release, dest / "root")
        announce(f"generating modules.dep for {release}")
        run([_sbin("depmod"), "-b", root, release], echo=False)
        shutil.rmtree(work / "debs")
        image = dest / "root/boot" / f"vmlinuz-{release}"
        manifest = {
            "name": abi,
            "release": release,
            "build_dir": str(build_dir),
            "image": str(image),
            "packages": [p for p, _ in packages],
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(work, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    announce(f"kernel {release} cached in {dest}")
    return KernelTree(abi, release, build_dir, image, "debian")


def _download(packages: list[tuple[str, int]], where: Path) -> list[Path]:
    where.mkdir(parents=True)
    sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
    for i, (name, size) in enumerate(packages, 1):
        announce(f"[{i}/{len(packages)}] downloading {name} ({size / 1e6:.1f} MB)")
        try:
            run(["apt-get", "download", "-q", *sandbox, name], cwd=where, inherit=True)
        except CommandError as err:
            raise KernelFetchError(f"apt-get download {name} failed ({err})") from err
    return sorted(where.glob("*.deb"))


def _fix_headers(root: Path, release: str, final_root: Path) -> Path:
    """Point the headers' absolute include of the -common tree at the cache."""
    build = root / "usr/src" / f"linux-headers-{release}"
    makefile = build / "Makefile"
    text = makefile.read_text()
    fixed, count = re.subn(
        r"^include /usr/src/", f"include {final_root}/usr/src/", text, flags=re.M
    )
    if count != 1:
        raise KernelFetchError(f"unexpected headers Makefile in {makefile}:\n{text}")
    makefile.write_text(fixed)
    return final_root / "usr/src" / f"linux-headers-{release}"


def _sbin(tool: str) -> str:
    found = sbin(tool)
    if not found:
        raise KernelFetchError(f"{tool} not found: install the kmod package")
    return found


def cached_kernels(paths: Paths) -> list[dict[str, str]]:
    """Manifests of every cached kernel, newest first."""
    found = [json.loads(m.read_text()) for m in paths.kernels.glob(f"*/{MANIFEST}")]
    return sorted(found, key=lambda d: _abi_key(d["name"]), reverse=True)


def describe(tree: KernelTree) -> dict[str, str]:
    data = asdict(tree)
    return {k: str(v) for k, v in data.items()}
