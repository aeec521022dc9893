"""masterdma harness: fetch kernels, build the modules, boot QEMU, judge the results."""
