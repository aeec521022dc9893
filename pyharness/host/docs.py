"""`make docs`: the Documentation/ tree as HTML, built by Sphinx with no warning.

The kernel-doc of our headers and exported functions is rendered by the
kernel's own scripts/kernel-doc and Sphinx extension (from linux-source-6.1,
lint.kernel_source); the module parameters page is written from what the
production modules say of themselves (modinfo), so that it cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import Paths
from ..errors import HarnessError
from ..runner import announce, run
from . import kbuild, kernels, lint

INSTALLED = ("mdma", "masterdev", "allocator", "himemlink")  # kmod/Makefile INSTALLED
GENERATED = "parameters.rst"


def parameters_rst(modules: dict[str, Path]) -> str:
    """The parameters of each module as `modinfo -F parm` gives them
    ("name:description (type)"), a table per module."""
    lines = [
        "Module parameters",
        "=================",
        "",
        "What the production modules accept (``modinfo -F parm``, written by",
        "``make docs`` from the modules it builds).  The test builds add their",
        "``test_*`` knobs, which the production modules never carry.",
        "",
    ]
    for name in INSTALLED:
        params = run(["modinfo", "-F", "parm", str(modules[name])], echo=False, show=False)
        rows = [line.split(":", 1) for line in params.output.splitlines() if ":" in line]
        lines += [f"``{name}.ko``", "-" * (len(name) + 7), ""]
        if not rows:
            lines += ["No parameters.", ""]
            continue
        lines += [".. list-table::", "   :header-rows: 1", "", "   * - parameter", "     - meaning"]
        for param, text in rows:
            lines += [f"   * - ``{param}``", f"     - {text.strip()}"]
        lines.append("")
    return "\n".join(lines)


def build(paths: Paths, kernel_spec: str = kernels.DEFAULT_KERNEL) -> Path:
    """Documentation/ -> build/docs/html; HarnessError on any Sphinx warning."""
    tree = kernels.resolve(kernel_spec, paths)
    production = kbuild.build(tree, paths, test_build=False)
    source = paths.root / "Documentation"
    (source / GENERATED).write_text(parameters_rst(production.modules))
    out = paths.build / "docs" / "html"
    env = {"MASTERDMA_KERNEL_SOURCE": str(lint.kernel_source(paths))}
    argv = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    done = run([*argv, "-d", str(paths.build / "docs" / "doctrees"), source, out], env=env,
               check=False)  # fmt: skip
    if not done.ok or done.output.strip():
        raise HarnessError(f"sphinx-build: warnings or errors (exit {done.returncode})")
    announce(f"documentation: {out / 'index.html'}")
    return out
