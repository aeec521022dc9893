"""VM profiles as data: memory, extra QEMU devices and kernel command line."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import ConfigError

EDU = ("-device", "edu")  # QEMU's educational PCI device, 1234:11e8: 28 address bits
# The same device addressing 32 bits, as most PCI cards do; masterdev cannot
# ask the device and is told (edu_dma_bits=32).
EDU_32 = ("-device", "edu,dma_mask=0xffffffff")
EDU_32_PARAMS = (("masterdev", "edu_dma_bits=32"),)
# 256 MiB below 4 GiB and the rest above: all of ZONE_DMA32 lies within edu's
# 28 bits, so mdma's zone choice serves every ring, and ZONE_NORMAL holds
# pages the device cannot reach, which mdma must never take.  QEMU warns that
# the split is not 1 GiB aligned (slower on the host's huge pages).
LOW_RAM_256M = ("-machine", "max-ram-below-4g=256M")
DEFAULT_FUZZ_CALLS = 100_000  # tests/vm/conftest.py's --fuzz-count default


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
    # Minutes one `invoke test` lane of it took under TCG beside a second
    # guest (6.1 and 6.12 alike); orders the lanes longest first, nothing else.
    lane_minutes: float = 14.0
    # The fuzz's calls when vm-test is not given --fuzz-count: plain makes the
    # 100 000 on each kernel; a profile that runs the whole suite again for
    # its machine's DMA paths (IOMMU, a bounce pool) makes a quarter, which
    # reaches each of those paths thousands of times, to keep `make test`
    # within CI's 90 minutes.
    fuzz_calls: int = 100_000  # DEFAULT_FUZZ_CALLS

    def pytest_args(self) -> tuple[str, ...]:
        """The guest's pytest options this profile sets (a caller's own come
        after them and win)."""
        return (
            () if self.fuzz_calls == DEFAULT_FUZZ_CALLS else ("--fuzz-count", str(self.fuzz_calls))
        )

    def params_for(self, module: str) -> tuple[str, ...]:
        return tuple(param for name, param in self.module_params if name == module)


BENCH = Profile(
    "bench",
    "2G",
    EDU_32,
    ("mem=1G",),
    "q35, 2 GiB with mem=1G: the kernel's 1 GiB for rings and the fragmenter, "
    "the rest for allocator.ko's 100 000 regions, a 32-bit edu; what "
    "`invoke bench` boots",
    module_params=EDU_32_PARAMS,
    tests=(),
    lane_minutes=0.0,
)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "plain",
            "1G",
            (*LOW_RAM_256M, *EDU),
            ("init_on_alloc=0",),
            "q35, 1 GiB (256 MiB below 4 GiB, all within edu's 28 bits), no IOMMU; "
            "init_on_alloc=0 (the upstream default; Debian's is on), so that the "
            "kernel does not zero pages for mdma and the zero-fill tests can fail",
            lane_minutes=20.0,
        ),
        Profile(
            "bounce",
            "1G",
            (*LOW_RAM_256M, *EDU),
            ("swiotlb=force",),
            "plain's machine with swiotlb=force: every streaming mapping bounces, so a "
            "missing or misdirected dma_sync_* corrupts data; runs the data paths",
            tests=(
                "tests/vm/test_loopback.py",
                "tests/vm/test_streams.py",
                "tests/vm/test_edu.py",
            ),
            lane_minutes=8.0,
        ),
        Profile(
            "iommu",
            "1G",
            ("-device", "intel-iommu,intremap=off", *EDU),
            ("intel_iommu=on", "iommu.strict=1"),
            "q35, 1 GiB, edu behind a strict Intel IOMMU",
            fuzz_calls=25_000,
        ),
        Profile(
            "himem",
            "512M",
            EDU_32,
            ("mem=440M",),
            "q35, 512 MiB with mem=440M: 72 MiB above the kernel, the first 8 MiB "
            'of it registered by x86 as a "RAM buffer" (mem= is not a multiple of '
            "64 MiB), the rest for allocator.ko, a 32-bit edu reaching it",
            module_params=EDU_32_PARAMS,
            tests=(
                "tests/vm/test_himem.py",
                "tests/vm/test_netlink.py",
                "tests/vm/test_faults.py",
                # nobody and root of a user namespace against /dev/himem and the
                # allocator family
                "tests/vm/test_secrets.py::test_unprivileged_users_are_refused_and_see_no_address",
            ),
            lane_minutes=9.0,
        ),
        Profile(
            "users",
            "5G",
            EDU_32,
            (),
            "q35, 5 GiB (3 GiB above 4 GiB), no IOMMU, a 32-bit edu, the default "
            "command line: a user's machine, where the kernel has its own bounce pool",
            module_params=EDU_32_PARAMS,
            fuzz_calls=25_000,
        ),
        BENCH,
        replace(
            BENCH,
            name="bench-swiotlb",
            append=(*BENCH.append, "swiotlb=force"),
            summary="bench's machine with swiotlb=force: `invoke bench`'s second boot, the "
            "bounce cost against the first boot's reachable pages (the bounce pool "
            "lies near 1 GiB, beyond a 28-bit edu: hence the 32-bit one)",
        ),
        Profile(
            "partial",
            "1G",
            EDU,
            (),
            "q35, 1 GiB all below 4 GiB, no IOMMU and no bounce pool: edu's 28 bits "
            "reach a quarter of ZONE_DMA32",
            tests=("tests/vm/test_reach.py",),
            lane_minutes=2.0,
        ),
    )
}


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}") from None
