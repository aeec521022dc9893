"""The ioctl ABI of masterdev, from kmod/include/uapi/master_dma.h through cffi.

API mode: the C compiler includes the header and supplies every struct layout
and ``_IOR``/``_IOWR`` number.  The cdef that tells cffi which names exist is
generated from the header's own text (its structs, enums and macro names), so
nothing is retyped here.  The same binding names the few items of the
system's own kernel UAPI the suite needs (SYSTEM_CDEF: userfaultfd), with
their layouts and numbers from <linux/userfaultfd.h> likewise.  The compiled
module is cached under build/uapi/, keyed by the header's hash and that list;
the guest imports the copy the host built.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import re
import sys
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from cffi import FFI

from .config import Paths

HEADER = Paths.default().kmod / "include/uapi/master_dma.h"
MODULE = "_master_dma_uapi"
TYPES = "typedef uint32_t __u32;\ntypedef uint64_t __u64;\n"
# What the suite uses of the kernel's own UAPI, from the system's headers in
# the same binding: names only; "...;" leaves every layout and number to the
# compiler.  userfaultfd(2) makes a page whose fault waits on user space.
SYSTEM_INCLUDES = ("sys/syscall.h", "linux/userfaultfd.h")
SYSTEM_CDEF = """
struct uffdio_api { __u64 api; __u64 features; __u64 ioctls; ...; };
struct uffdio_range { __u64 start; __u64 len; ...; };
struct uffdio_register { struct uffdio_range range; __u64 mode; __u64 ioctls; ...; };
#define __NR_userfaultfd ...
#define UFFD_API ...
#define UFFDIO_API ...
#define UFFDIO_REGISTER ...
#define UFFDIO_REGISTER_MODE_MISSING ...
"""


def cdef_from_header(text: str) -> str:
    """The declarations of a UAPI header for cffi: types verbatim, macros as `...`."""
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    blocks = re.findall(r"^(?:struct|enum)\s+\w+\s*\{.*?^\};", code, flags=re.S | re.M)
    names = re.findall(r"^#define\s+(MASTER_DMA_\w+)\b(?!\()(?!\s+\")", code, flags=re.M)
    return TYPES + "\n".join(blocks) + "\n" + "".join(f"#define {n} ...\n" for n in names)


def strings_from_header(text: str) -> dict[str, str]:
    """The header's string macros (cffi binds only integer ones)."""
    return dict(re.findall(r'^#define\s+(MASTER_DMA_\w+)\s+"([^"]*)"', text, flags=re.M))


def documented_errnos_in(text: str, section: str) -> frozenset[int]:
    """The errnos a header's "DOC: Errors of <section>" comment names.

    Raises KeyError when the header has no such section.
    """
    found = re.search(rf"/\*\*\s*\n \* DOC: Errors of {re.escape(section)}\n(.*?)\*/", text, re.S)
    if found is None:
        raise KeyError(f"no 'DOC: Errors of {section}' in the header")
    words = set(re.findall(r"\bE[A-Z]+\b", found[1]))  # also EPOLLIN and the like
    return frozenset(getattr(errno, word) for word in words if hasattr(errno, word))


def documented_errnos(section: str) -> frozenset[int]:
    """The errnos master_dma.h documents for one interface (its "Errors of" sections)."""
    return documented_errnos_in(HEADER.read_text(), section)


def strings() -> dict[str, str]:
    return strings_from_header(HEADER.read_text())


def _build_dir(paths: Paths) -> Path:
    digest = hashlib.sha256(HEADER.read_bytes() + SYSTEM_CDEF.encode()).hexdigest()[:16]
    return paths.build / "uapi" / digest


def build(paths: Paths) -> Path:
    """Compile the binding (once per header version); return its directory."""
    where = _build_dir(paths)
    if list(where.glob(f"{MODULE}*.so")):
        return where
    where.mkdir(parents=True, exist_ok=True)
    ffi = FFI()
    ffi.cdef(cdef_from_header(HEADER.read_text()) + SYSTEM_CDEF)
    source = '#include "master_dma.h"\n' + "".join(f"#include <{n}>\n" for n in SYSTEM_INCLUDES)
    ffi.set_source(MODULE, source, include_dirs=[str(HEADER.parent)])
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(ffi.compile(tmpdir=tmp, verbose=False))
        built.rename(where / built.name)
    return where


@cache
def load(paths: Paths | None = None) -> ModuleType:
    """The compiled binding (its .ffi and .lib); built first on a writable host."""
    where = _build_dir(paths or Paths.default())
    found = sorted(where.glob(f"{MODULE}*.so"))
    if not found:
        where = build(paths or Paths.default())
        found = sorted(where.glob(f"{MODULE}*.so"))
    spec = importlib.util.spec_from_file_location(MODULE, found[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    return module


def ffi() -> Any:
    return load().ffi


def lib() -> Any:
    return load().lib
