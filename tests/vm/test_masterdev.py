"""masterdev loads, reloads and unloads cleanly; its WARN knob is caught by the judge."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyharness.guest import guestkit, himem
from pyharness.guest import masterdev as md
from pyharness.model import compare, kjudge

from .conftest import Reload

EDU = ("0x1234", "0x11e8")


def test_module_is_live() -> None:
    assert Path("/sys/module/masterdev/initstate").read_text().strip() == "live"


def test_module_taints_only_as_out_of_tree() -> None:
    assert Path("/sys/module/masterdev/taint").read_text().strip() in {"O", "OE"}


def test_warn_knob_is_off_by_default_and_root_only() -> None:
    param = Path("/sys/module/masterdev/parameters/inject_warn")
    assert param.read_text().strip() == "N"
    assert param.stat().st_mode & 0o777 == 0o400


def test_edu_device_is_present() -> None:
    found = [
        dev
        for dev in Path("/sys/bus/pci/devices").iterdir()
        if ((dev / "vendor").read_text().strip(), (dev / "device").read_text().strip()) == EDU
    ]
    assert len(found) == 1


def test_reload_is_clean(
    reload: Reload, boot_params: tuple[str, ...], kernel_log_judge: guestkit.Kmsg
) -> None:
    reload()
    texts = [line.text for line in kjudge.parse_kmsg(kernel_log_judge.read())]
    assert "masterdev: unloaded" in texts
    assert "masterdev: loaded" in texts
    bits = dict(param.split("=") for param in boot_params).get("edu_dma_bits", "28")
    assert str(md.edu_dma_bits()) == bits  # the profile's device, as at boot


@pytest.mark.usefixtures("masterdev_state")
def test_without_edu_rings_go_to_the_platform_device(reload: Reload) -> None:
    """As on a machine without edu: the card is the platform device, the
    bus-address engine still loops transmit to receive."""
    reload("edu=0")
    try:
        assert md.edu_device() is None
        assert md.dma_device("asitx0") == "masterdev"
        md.set_pair("asi", 16, 1316)
        data = os.urandom(16 * 1316)
        with md.opened("asitx0") as tx, md.opened("asirx0") as rx:
            assert os.write(tx, data) == len(data)
            got = md.read_exactly(rx, len(data))
    finally:
        reload()
    compare.assert_same(got, data, "received through the platform device")
    assert md.edu_device() is not None


@pytest.mark.usefixtures("masterdev_state")
def test_a_64_bit_card_keeps_its_32_bit_descriptors_below_4_gib(reload: Reload) -> None:
    """PLX 9080 descriptors hold 32 bits: whatever the card's mask, an SDI ring
    lies below 4 GiB; the 64-bit Linear Systems format may use any page."""
    if not himem.ram_above(1 << 32):
        pytest.skip("no RAM above 4 GiB in this profile")
    reload("edu=0", "card_dma_bits=64")
    try:
        md.set_geometry("sditx0", 3000, 9588)  # 9000 pages: more than the low RAM's share
        with md.opened("sditx0"):
            sdi = md.summary("sditx0")
            frags = md.fragments("sditx0")
        md.set_geometry("asitx0", 3000, 9588)
        with md.opened("asitx0"):
            asi = md.summary("asitx0")
    finally:
        reload()
    assert sdi["dma_limit"] == (1 << 32) - 1
    assert sdi["pages_normal"] == 0
    assert max(f.dma + f.length for f in frags) <= 1 << 32
    assert max(f.desc for f in frags) < 1 << 32
    assert asi["dma_limit"] == (1 << 64) - 1


@pytest.mark.kernel_expect("error")  # its pr_err/dev_err is the point
def test_a_bad_card_mask_is_refused(
    module_paths: dict[str, Path], boot_params: tuple[str, ...]
) -> None:
    removed = guestkit.rmmod("masterdev")
    assert removed.ok, removed.output
    try:
        refused = guestkit.insmod(module_paths["masterdev"], "card_dma_bits=20")
        assert not refused.ok
        assert "Invalid parameters" in refused.output  # kmod's words for EINVAL
    finally:
        inserted = guestkit.insmod(module_paths["masterdev"], *boot_params)
        assert inserted.ok, inserted.output


@pytest.mark.kernel_expect("WARNING")
def test_warn_knob_is_caught_by_the_judge(reload: Reload, kernel_log_judge: guestkit.Kmsg) -> None:
    reload("inject_warn=1")
    lines = kjudge.parse_kmsg(kernel_log_judge.read())
    verdict = kjudge.judge(kjudge.strip_markers(lines))
    reload()
    assert "WARNING" in verdict.kinds(), verdict.report()
    warnings = [f.line.text for f in verdict.findings if f.kind == "WARNING"]
    assert any("[masterdev]" in text for text in warnings), warnings
    assert "Call Trace" in verdict.kinds()
