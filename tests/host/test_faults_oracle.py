"""The page-leak oracle's arithmetic (pyharness.guest.faults.net_pages), on this
host's /proc/vmstat and on a made-up one: every counter it subtracts must be
a name /proc/vmstat really prints (a wrong name once read as zero and left
slab out of the sum, which KASAN's quarantine then filled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyharness.guest import faults


def test_every_subtracted_counter_is_in_this_kernels_vmstat() -> None:
    names = {line.split()[0] for line in Path("/proc/vmstat").read_text().splitlines()}
    missing = set(faults.ACCOUNTED_PAGES + faults.ACCOUNTED_KB) - names
    assert not missing, f"not in /proc/vmstat: {sorted(missing)}"
    assert isinstance(faults.net_pages(), int)


def test_net_pages_subtracts_slab_tables_stacks_cache_and_anon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vmstat = tmp_path / "vmstat"
    vmstat.write_text(
        "pgalloc_dma 10\npgalloc_dma32 1000\npgalloc_normal 5000\npgfree 4000\n"
        "nr_slab_reclaimable 100\nnr_slab_unreclaimable 200\nnr_page_table_pages 30\n"
        "nr_file_pages 400\nnr_anon_pages 50\nnr_kernel_stack 64\n"
    )
    monkeypatch.setattr(faults, "VMSTAT", vmstat)
    # 6010 handed out - 4000 freed - (100 + 200 + 30 + 400 + 50) - 64 KiB of stacks (16 pages)
    assert faults.net_pages() == 6010 - 4000 - 780 - 16
    vmstat.write_text(vmstat.read_text().replace("nr_slab_unreclaimable", "nr_slab_other"))
    with pytest.raises(KeyError):
        faults.net_pages()
