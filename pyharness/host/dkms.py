"""DKMS on the host: build the production modules as DKMS would for a kernel,
into a binaries-only DKMS tarball that the guest installs with `dkms ldtarball`
and `dkms install` (tests/vm/test_dkms.py).

DKMS compiles from dkms.conf exactly as `make dkms-install` makes it do on a
user's machine (its MAKE line, a production build, every BUILT_MODULE_*), but
on the host, against the kernel's build tree, in private trees under the run
directory (--dkmstree, --sourcetree): nothing of the host's /usr/src or
/var/lib/dkms is touched.  Compiling in the guest takes about 20 minutes
under TCG (`invoke vm-test --dkms` still does that); this takes about 30 s.
`dkms mktarball --binaries-only` is DKMS's own way to ship modules built
elsewhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..config import Paths
from ..errors import BuildError, CommandError
from ..model import dkmsconf
from ..runner import announce, run
from .kbuild import sync_sources
from .kernels import KernelTree

PACKAGE = "masterdma"


def version(paths: Paths) -> str:
    """PACKAGE_VERSION from dkms.conf; BuildError if it has none."""
    try:
        return dkmsconf.version(paths.root / "dkms.conf")
    except KeyError:
        raise BuildError("dkms.conf has no PACKAGE_VERSION", "") from None


def available() -> bool:
    return shutil.which("dkms") is not None


def binary_tarball(kernel: KernelTree, paths: Paths, into: Path) -> Path:
    """Build the modules with DKMS for kernel and pack them with `dkms
    mktarball --binaries-only`; returns the tarball's path under into/dkms.

    DKMS's output goes to into/dkms/dkms.log.  Raises BuildError if a DKMS
    step fails (that step's output in the error).
    """
    ver = version(paths)
    top = into / "dkms"
    source = top / "src" / f"{PACKAGE}-{ver}"
    tree = top / "tree"
    tree.mkdir(parents=True)
    source.mkdir(parents=True)
    shutil.copy2(paths.root / "dkms.conf", source / "dkms.conf")
    sync_sources(paths.kmod, source / "kmod")  # the sources, no build products
    private = ["--dkmstree", str(tree), "--sourcetree", str(source.parent)]
    module = f"{PACKAGE}/{ver}"
    log = top / "dkms.log"
    announce(f"DKMS: building {module} for {kernel.release} (binaries-only tarball)")
    steps = (
        ["dkms", "add", *private, module],
        ["dkms", "build", *private, module, "-k", kernel.release,
         "--kernelsourcedir", str(kernel.build_dir)],
        ["dkms", "mktarball", *private, module, "-k", kernel.release, "--binaries-only"],
    )  # fmt: skip
    with log.open("a") as out:
        for argv in steps:
            out.write(f"$ {' '.join(argv)}\n")
            out.flush()
            try:
                done = run(argv, echo=False, show=False)
            except CommandError as err:
                out.write(err.output)
                raise BuildError(
                    f"DKMS failed: {' '.join(argv[:2])} (log: {log})", err.output
                ) from err
            out.write(done.output)
    tarballs = sorted((tree / PACKAGE / ver / "tarball").glob("*.dkms.tar.gz"))
    if len(tarballs) != 1:
        raise BuildError(f"DKMS made {len(tarballs)} tarballs (log: {log})", "")
    return tarballs[0]
