"""The high-memory side's pure parts: parsers, the expected claim, the first-fit model."""

from __future__ import annotations

from pathlib import Path

from pyharness.host import profiles
from pyharness.model import himemmodel, mapcheck
from pyharness.model.himemmodel import PAGE, FirstFit, IomemEntry
from pyharness.model.plan import ModuleSpec, Plan

# /proc/iomem of the himem profile (q35, 512 MiB, mem=448M) with allocator.ko loaded.
IOMEM = """\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
00100000-1bffffff : System RAM
  0e000000-0f001fff : Kernel code
1c000000-1ffdffff : allocator
1ffe0000-1fffffff : Reserved
b0000000-bfffffff : PCI MMCONFIG 0000 [bus 00-ff]
  b0000000-bfffffff : Reserved
"""
RAM = [(0x1000, 0x9FC00), (0x100000, 0x1FFE0000)]
BASE = 448 << 20


def test_parse_iomem_keeps_depth_and_inclusive_ends() -> None:
    entries = himemmodel.parse_iomem(IOMEM)
    assert entries[3] == IomemEntry(0xE000000, 0xF001FFF, "Kernel code", 1)
    assert entries[4] == IomemEntry(BASE, 0x1FFDFFFF, "allocator", 0)
    assert entries[4].overlaps(0x1FFDF000, 0x1FFE0000)
    assert not entries[4].overlaps(0x1FFE0000, 0x20000000)


def test_expected_claim_stops_at_the_first_registered_range() -> None:
    entries = himemmodel.parse_iomem(IOMEM)  # its own claim does not count
    assert himemmodel.expected_claim(BASE, RAM, entries) == (BASE, 0x1FFE0000 - BASE)
    assert himemmodel.expected_claim(BASE, RAM, entries, limit=16 << 20) == (BASE, 16 << 20)
    registered = [*entries, IomemEntry(0x1E000800, 0x1E000FFF, "some device", 0)]
    assert himemmodel.expected_claim(BASE, RAM, registered) == (BASE, 0x1E000000 - BASE)
    assert himemmodel.expected_claim(0x1FFE0000, RAM, entries) == (0x1FFE0000, 0)  # no RAM there


def test_expected_claim_steps_over_the_ram_buffer_of_an_unaligned_mem() -> None:
    """mem=440M: x86 registers "RAM buffer" up to the next 64 MiB."""
    mem = 440 << 20
    entries = [*himemmodel.parse_iomem(IOMEM), IomemEntry(mem, BASE - 1, "RAM buffer", 0)]
    assert himemmodel.expected_claim(mem, RAM, entries) == (BASE, 0x1FFE0000 - BASE)
    taken = [*entries, IomemEntry(BASE, 0x1FFDFFFF, "a driver", 0)]
    assert himemmodel.expected_claim(mem, RAM, taken) == (BASE, 0)  # another's claim stays
    other = [e for e in entries if e.name != "RAM buffer"] + [IomemEntry(mem, BASE - 1, "x", 0)]
    assert himemmodel.expected_claim(mem, RAM, other) == (mem, 0)  # only a RAM buffer is passed


def test_summary_numbers_may_be_hex() -> None:
    text = "state: enabled\nbase: 0x1c000000\nsize: 66977792\n"
    assert mapcheck.parse_summary(text) == {"state": "enabled", "base": BASE, "size": 66977792}


def test_parse_regions() -> None:
    text = "0x1c000000 4096 himemtest\n0x1c001000 65536 himemclient\n"
    assert himemmodel.parse_regions(text)[1] == himemmodel.Region(BASE + PAGE, 65536, "himemclient")


def test_first_fit_takes_the_lowest_hole_that_fits() -> None:
    model = FirstFit(BASE, 16 * PAGE)
    a, b, c = (model.predict(n) for n in (1, 2 * PAGE, PAGE + 1))
    assert (a, b, c) == (BASE, BASE, BASE)
    for start, nbytes in ((BASE, 1), (BASE + PAGE, 3 * PAGE), (BASE + 4 * PAGE, PAGE)):
        model.allocated(start, nbytes)
    model.freed(BASE + PAGE)
    assert model.holes() == [(BASE + PAGE, 3 * PAGE), (BASE + 5 * PAGE, 11 * PAGE)]
    assert model.predict(2 * PAGE) == BASE + PAGE
    assert model.predict(4 * PAGE) == BASE + 5 * PAGE
    assert model.predict(12 * PAGE) is None
    assert model.predict(0) is None
    assert model.summary() == {"free": 14 * PAGE, "largest_free": 11 * PAGE, "regions": 2}


def test_himem_profile_tells_masterdev_its_edu_reaches_32_bits() -> None:
    profile = profiles.get("himem")
    assert profile.params_for("masterdev") == ("edu_dma_bits=32",)
    assert any("dma_mask=0xffffffff" in opt for opt in profile.qemu_opts)
    assert "tests/vm/test_himem.py" in profile.tests
    assert profiles.get("plain").params_for("masterdev") == ()


def test_plan_round_trips_the_modules_loaded_on_demand(tmp_path: Path) -> None:
    plan = Plan((ModuleSpec("/r/mdma.ko"),), ("tests/vm",), (), (), ("/r/allocator.ko",))
    plan.dump(tmp_path)
    assert Plan.load(tmp_path) == plan
