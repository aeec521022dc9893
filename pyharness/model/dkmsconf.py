"""dkms.conf read as DKMS reads it: shell assignments, ``NAME="value"`` or
``NAME[i]="value"``, one per line (dkms(8), "DKMS.CONF").

The one Python reader of the file: the host's DKMS build, the guest's DKMS
test and the host test of the file's contents (the Makefile takes the version
with sed).
"""

from __future__ import annotations

import re
from pathlib import Path

_ASSIGNMENT = re.compile(r'^([A-Z_]+(?:\[\d+\])?)="([^"]*)"', re.M)


def read(path: Path) -> dict[str, str]:
    """Every quoted assignment of the file, by name (``MAKE[0]``, ``PACKAGE_VERSION``...)."""
    return dict(_ASSIGNMENT.findall(path.read_text()))


def version(path: Path) -> str:
    """PACKAGE_VERSION; KeyError if the file has none."""
    return read(path)["PACKAGE_VERSION"]
