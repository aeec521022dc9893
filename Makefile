# masterdma top-level Makefile.
#
#   make            build the modules against the running kernel (KDIR=... for another)
#   make bootstrap  install the missing host packages and the Python venv (.venv)
#   make vm-test    bootstrap, then build, boot QEMU, load, verify, report
#   make test       bootstrap, then host tests + lint + VM tests (two guests at once on 2 cores)
#   make test-debug bootstrap, then the same on the debug kernel (KASAN, kmemleak, lockdep...),
#                   built from linux-source-6.1 on first use (about 15-20 min), in the
#                   plain, iommu and himem profiles
#   make native     bootstrap, then the guest suite on this machine's own kernel, no VM
#                   (root or sudo; for a disposable box: the Vagrantfile's native machine)
#   make lint       bootstrap, then ruff, mypy, checkpatch, kernel-doc, sparse
#   make docs       bootstrap, then Documentation/ as HTML in build/docs/html (Sphinx)
#   make install    build the production modules against KDIR (default: the running
#                   kernel's headers) and install them into /lib/modules/<release>/updates,
#                   then depmod (INSTALL_MOD_PATH=/staging for another root)
#   make uninstall  remove them again, then depmod
#   make dkms-install  register the production modules with DKMS (/usr/src/masterdma-<version>)
#                   and build and install them for KREL (default: the running kernel)
#   make dkms-remove   remove them from DKMS for every kernel, and the copy in /usr/src
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

# What users install is a production build, whatever the environment says.
install uninstall:
	$(MAKE) -C $(ROOT)/kmod MASTERDMA_TEST= $@

VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(ROOT)/dkms.conf)
DKMS_SRC := /usr/src/masterdma-$(VERSION)
KREL ?= $(shell uname -r)
DKMS_FLAGS ?=

# The copy DKMS builds from: dkms.conf and kmod/'s sources, no build products;
# an earlier registration of this version is removed first.
dkms-install:
	dkms remove $(DKMS_FLAGS) masterdma/$(VERSION) --all >/dev/null 2>&1 || true
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -r $(ROOT)/dkms.conf $(ROOT)/kmod $(DKMS_SRC)/
	$(MAKE) -C $(DKMS_SRC)/kmod KDIR=/nonexistent clean >/dev/null
	dkms add $(DKMS_FLAGS) $(DKMS_SRC)
	dkms install $(DKMS_FLAGS) masterdma/$(VERSION) -k $(KREL)

dkms-remove:
	dkms remove $(DKMS_FLAGS) masterdma/$(VERSION) --all || true
	rm -rf $(DKMS_SRC)

bootstrap:
	@$(ROOT)/scripts/bootstrap.sh

vm-test: bootstrap
	$(INVOKE) vm-test $(ARGS)

test: bootstrap
	$(INVOKE) test $(ARGS)

test-debug: bootstrap
	$(INVOKE) test --kernel debug --profile plain,iommu,himem $(ARGS)

native: bootstrap
	$(INVOKE) native $(ARGS)

lint: bootstrap
	$(INVOKE) lint $(ARGS)

docs: bootstrap
	$(INVOKE) docs $(ARGS)

clean:
	$(MAKE) -C $(ROOT)/kmod clean
	rm -rf $(filter-out $(ROOT)/build/runs,$(wildcard $(ROOT)/build/*))

.PHONY: all modules install uninstall dkms-install dkms-remove bootstrap vm-test test test-debug native lint docs clean
