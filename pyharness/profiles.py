"""VM profiles as data: memory, extra QEMU devices and kernel command line."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

EDU = ("-device", "edu")  # QEMU's educational PCI device, 1234:11e8
# The same device addressing 32 bits, so that it reaches the RAM above mem=
# without an IOMMU; masterdev cannot ask the device and is told.
EDU_32 = ("-device", "edu,dma_mask=0xffffffff")
# x86 puts swiotlb at the top of the RAM below 4 GiB: with all of 1 GiB low,
# that is above 256 MiB, out of reach of edu's 28 bits, and a bounce would
# fail.  With 256 MiB below 4 GiB and the rest above, swiotlb is enabled (RAM
# above 4 GiB) and lands below 256 MiB, where the 28-bit edu reaches it.
# QEMU warns that this split is not 1 GiB aligned (slower on the host's
# huge pages); that is the price of a reachable bounce pool.
LOW_RAM_256M = ("-machine", "max-ram-below-4g=256M")
SWIOTLB_SLABS = 65536  # 2 KiB each: 128 MiB, room for the suite's 80 MB ring
# With physical KASLR the kernel image may land anywhere in those 256 MiB and
# leave no 128 MiB hole: the kernel then halves the pool ("bounce buffer size
# adjusted") and large rings fail with ENOMEM.  A fixed image keeps it whole.
BOUNCE_POOL = (f"swiotlb={SWIOTLB_SLABS}", "nokaslr")


@dataclass(frozen=True)
class Profile:
    name: str
    memory: str
    qemu_opts: tuple[str, ...]
    append: tuple[str, ...]
    summary: str
    # Parameters for the modules loaded at boot, as (module, "name=value").
    module_params: tuple[tuple[str, str], ...] = ()
    # What the guest runs; the himem lane runs only the allocator's tests.
    tests: tuple[str, ...] = ("tests/vm",)

    def params_for(self, module: str) -> tuple[str, ...]:
        return tuple(param for name, param in self.module_params if name == module)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "plain",
            "1G",
            (*LOW_RAM_256M, *EDU),
            BOUNCE_POOL,
            "q35, 1 GiB (256 MiB below 4 GiB), edu bouncing through a 128 MiB swiotlb",
        ),
        Profile(
            "iommu",
            "1G",
            ("-device", "intel-iommu,intremap=off", *EDU),
            ("intel_iommu=on", "iommu.strict=1"),
            "q35, 1 GiB, edu behind a strict Intel IOMMU",
        ),
        Profile(
            "himem",
            "512M",
            EDU_32,
            ("mem=448M",),
            "q35, 512 MiB with mem=448M: 64 MiB above the kernel for allocator.ko, "
            "a 32-bit edu reaching it",
            module_params=(("masterdev", "edu_dma_bits=32"),),
            tests=("tests/vm/test_himem.py", "tests/vm/test_netlink.py"),
        ),
    )
}


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}") from None
