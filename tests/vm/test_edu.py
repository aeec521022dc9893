"""masterdev binds QEMU's edu device and proves it moves bytes by DMA at probe."""

from __future__ import annotations

from pathlib import Path

from pyharness import mapcheck

DRIVER = Path("/sys/bus/pci/drivers/masterdev-edu")
STATUS = Path("/sys/kernel/debug/masterdev/edu")


def test_edu_is_bound() -> None:
    bound = [p for p in DRIVER.iterdir() if p.name.startswith("0000:")]
    assert len(bound) == 1
    assert (bound[0] / "vendor").read_text().strip() == "0x1234"
    assert (bound[0] / "device").read_text().strip() == "0x11e8"


def test_self_test_passed_by_interrupt() -> None:
    status = mapcheck.parse_summary(STATUS.read_text())
    assert status["selftest"] == "pass"
    assert status["dma_mask_bits"] == 28
    assert status["irq"] == "msi"
    transfers, interrupts = int(status["transfers"]), int(status["interrupts"])
    assert transfers >= 2
    assert interrupts >= transfers  # every transfer completed by its interrupt
    assert "masterdev-edu" in Path("/proc/interrupts").read_text()
