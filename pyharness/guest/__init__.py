"""What runs in the guest: the runner (``python -m pyharness.guest RUN_DIR``), the
clients of our interfaces (ioctl through the UAPI binding, debugfs, sysfs, generic
netlink), the fault sweeps and the in-guest benchmark driver.

Needs the guest's packages (cffi, pyroute2; hypothesis in the fuzz tests) and never
the host's: ``tests/host/test_imports.py``.
"""
