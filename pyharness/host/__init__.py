"""The host pipeline: fetch kernels, build the modules, boot QEMU, judge, report, draw, lint.

Needs the host's packages (invoke, virtme-ng, matplotlib, kcidb-io, tuxlava, sphinx)
and never the guest's (pyroute2, hypothesis): ``tests/host/test_imports.py``.
"""
