"""Where things live: the project, the per-user cache, the build directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    """Directories the harness reads and writes."""

    root: Path
    cache: Path
    build: Path
    # Where runs/ is served (https://ci.example/runs), for the results files'
    # links; "" gives file:// URLs into the local run directory.
    runs_url: str = ""

    @property
    def kmod(self) -> Path:
        return self.root / "kmod"

    @property
    def kernels(self) -> Path:
        return self.cache / "kernels"

    @property
    def runs(self) -> Path:
        return self.build / "runs"

    @classmethod
    def default(cls) -> Paths:
        """Paths from the environment: MASTERDMA_CACHE and MASTERDMA_BUILD override;
        MASTERDMA_RUNS_URL is where build/runs is served (KCIDB's file URLs)."""
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        cache = Path(os.environ.get("MASTERDMA_CACHE") or Path(xdg) / "masterdma")
        build = Path(os.environ.get("MASTERDMA_BUILD") or PROJECT_ROOT / "build")
        cache, build = cache.expanduser().absolute(), build.expanduser().absolute()
        runs_url = os.environ.get("MASTERDMA_RUNS_URL", "").rstrip("/")
        return cls(root=PROJECT_ROOT, cache=cache, build=build, runs_url=runs_url)
