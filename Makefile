# masterdma top-level Makefile.
#
#   make            build the modules against the running kernel (KDIR=... for another)
#   make bootstrap  install the missing host packages and the Python venv (.venv)
#   make vm-test    bootstrap, then build, boot QEMU, load, verify, report
#   make test       bootstrap, then host tests + lint + VM tests (two guests at once on 2 cores)
#   make test-debug bootstrap, then the same on the debug kernel (KASAN, kmemleak, lockdep...),
#                   built from linux-source-6.1 on first use (about 15-20 min), in the
#                   plain, iommu and himem profiles
#   make lint       bootstrap, then ruff, mypy, checkpatch, kernel-doc, sparse
#   make clean      remove the module objects (kmod/, build/<release>/); the run logs in
#                   build/runs stay (.venv/bin/invoke clean removes all of build/)
#
# Extra invoke flags: make vm-test ARGS="--kernel 6.12 --profile iommu"
# Works from any directory: make -f /path/to/masterdma/Makefile test

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
INVOKE := cd $(ROOT) && .venv/bin/invoke
ARGS ?=

all: modules

modules:
	$(MAKE) -C $(ROOT)/kmod

bootstrap:
	@$(ROOT)/scripts/bootstrap.sh

vm-test: bootstrap
	$(INVOKE) vm-test $(ARGS)

test: bootstrap
	$(INVOKE) test $(ARGS)

test-debug: bootstrap
	$(INVOKE) test --kernel debug --profile plain,iommu,himem $(ARGS)

lint: bootstrap
	$(INVOKE) lint $(ARGS)

clean:
	$(MAKE) -C $(ROOT)/kmod clean
	rm -rf $(filter-out $(ROOT)/build/runs,$(wildcard $(ROOT)/build/*))

.PHONY: all modules bootstrap vm-test test test-debug lint clean
