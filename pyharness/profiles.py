"""VM profiles as data: memory, extra QEMU devices and kernel command line."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

EDU = ("-device", "edu")  # QEMU's educational PCI device, 1234:11e8


@dataclass(frozen=True)
class Profile:
    name: str
    memory: str
    qemu_opts: tuple[str, ...]
    append: tuple[str, ...]
    summary: str


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("plain", "1G", EDU, (), "q35, 1 GiB, edu device"),
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
            EDU,
            ("mem=448M",),
            "q35, 512 MiB with mem=448M: 64 MiB above the kernel for allocator.ko",
        ),
    )
}


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}") from None
