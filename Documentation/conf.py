# Sphinx configuration of the masterdma documentation: `make docs` (invoke docs).
#
# The in-kernel APIs and the UAPI are rendered from the headers by the kernel's
# own scripts/kernel-doc through its Sphinx extension (Documentation/sphinx/
# kerneldoc.py of linux-source-6.1), which invoke docs fetches into the cache
# and names in MASTERDMA_KERNEL_SOURCE.  Markdown pages (the design, parts of
# the README) go through myst-parser.
import os
import sys
import warnings
from pathlib import Path

KERNEL_SOURCE = Path(os.environ["MASTERDMA_KERNEL_SOURCE"])
sys.path.insert(0, str(KERNEL_SOURCE / "Documentation" / "sphinx"))

project = "masterdma"
author = "the masterdma developers"
copyright = "2026, the masterdma developers; GPL-2.0"
release = "0.1.0"

# kerneldoc.py of 6.1 joins env.srcdir to a string, which Sphinx 7.2 and later
# deprecate (the kernel's later versions use os.fspath): its notice, not a
# documentation warning, is the one silenced here.
warnings.filterwarnings(
    "ignore",
    message="Sphinx .* will drop support for representing paths as strings",
    module="kerneldoc",
)
extensions = ["kerneldoc", "myst_parser"]
kerneldoc_bin = str(KERNEL_SOURCE / "scripts" / "kernel-doc")
kerneldoc_srctree = str(Path(__file__).resolve().parents[1])
kerneldoc_verbosity = 1  # kernel-doc's own warnings reach -W
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3
# The README's reference part, included in a page of its own, starts at "##".
suppress_warnings = ["myst.header"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "DMA ring and high-memory allocators for Linux"}
primary_domain = "c"
# The kernel's annotations, which Sphinx's C parser must take as attributes
# (as the kernel's own Documentation/conf.py lists them).
c_id_attributes = ["__user", "__iomem", "__rcu", "__percpu", "__must_check", "__init",
                   "__exit", "notrace", "noinstr"]  # fmt: skip
highlight_language = "none"
