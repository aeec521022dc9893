"""Kernel specs, the cache, and the headers rewrite, without the network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyharness.config import Paths
from pyharness.errors import KernelFetchError
from pyharness.host import kernels


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(root=tmp_path, cache=tmp_path / "cache", build=tmp_path / "build")


@pytest.mark.parametrize(
    ("abi", "spec", "matches"),
    [
        ("6.1.0-56", "6.1", True),
        ("6.12.117+deb12", "6.12", True),
        ("6.12.117+deb12", "6.1", False),
        ("6.1.0-56", "6.12", False),
        ("6.1.0-56", "6.1.0-56", False),  # exact names are compared for equality
    ],
)
def test_abi_matches(abi: str, spec: str, matches: bool) -> None:
    assert kernels._abi_matches(abi, spec) is matches


def test_newest_abi_sorts_numerically() -> None:
    abis = ["6.1.0-9", "6.1.0-56", "6.1.0-47"]
    assert max(abis, key=kernels._abi_key) == "6.1.0-56"


def cache_kernel(paths: Paths, abi: str) -> None:
    where = paths.kernels / abi
    where.mkdir(parents=True)
    manifest = {
        "name": abi,
        "release": f"{abi}-amd64",
        "build_dir": str(where / "root/usr/src/linux-headers"),
        "image": str(where / "root/boot/vmlinuz"),
        "packages": [],
    }
    (where / kernels.MANIFEST).write_text(json.dumps(manifest))


def test_cached_kernel_is_used_without_network(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was touched")

    monkeypatch.setattr(kernels, "run", no_network)
    cache_kernel(paths, "6.1.0-47")
    cache_kernel(paths, "6.1.0-56")
    cache_kernel(paths, "6.12.117+deb12")
    assert kernels.resolve("6.1", paths).release == "6.1.0-56-amd64"
    assert kernels.resolve("6.12", paths).release == "6.12.117+deb12-amd64"
    assert kernels.resolve("6.1.0-47", paths).release == "6.1.0-47-amd64"
    with pytest.raises(KernelFetchError, match="not in the cache"):
        kernels.resolve("5.10", paths, fetch=False)


def test_headers_include_is_rewritten(tmp_path: Path) -> None:
    build = tmp_path / "root/usr/src/linux-headers-6.1.0-56-amd64"
    build.mkdir(parents=True)
    (build / "Makefile").write_text("include /usr/src/linux-headers-6.1.0-56-common/Makefile\n")
    final = tmp_path / "final/root"
    got = kernels._fix_headers(tmp_path / "root", "6.1.0-56-amd64", final)
    assert got == final / "usr/src/linux-headers-6.1.0-56-amd64"
    assert (build / "Makefile").read_text() == (
        f"include {final}/usr/src/linux-headers-6.1.0-56-common/Makefile\n"
    )


def test_unexpected_headers_makefile_is_an_error(tmp_path: Path) -> None:
    build = tmp_path / "root/usr/src/linux-headers-x-amd64"
    build.mkdir(parents=True)
    (build / "Makefile").write_text("all:\n")
    with pytest.raises(KernelFetchError, match="unexpected headers Makefile"):
        kernels._fix_headers(tmp_path / "root", "x-amd64", tmp_path)


def test_tree_kernel_needs_kernel_release(tmp_path: Path) -> None:
    with pytest.raises(KernelFetchError, match="not a configured kernel build tree"):
        kernels.tree_kernel(tmp_path)
    (tmp_path / "include/config").mkdir(parents=True)
    (tmp_path / "include/config/kernel.release").write_text("6.13.0-rc1\n")
    tree = kernels.tree_kernel(tmp_path)
    assert (tree.release, tree.origin, tree.bootable) == ("6.13.0-rc1", "tree", False)
