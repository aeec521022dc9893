# masterdma top-level Makefile.
#
#   make            build the modules against the running kernel (KDIR=... for another)
#   make vm-test    set everything up, then build, boot QEMU, load, verify, report
#   make test       set everything up, then host tests + lint + VM tests
#   make lint       set everything up, then ruff, mypy, checkpatch, kernel-doc, sparse
#   make clean      remove module objects and build/
#
# Extra invoke flags: make vm-test ARGS="--kernel 6.12 --profile iommu"

INVOKE := .venv/bin/invoke
ARGS ?=

all: modules

modules:
	$(MAKE) -C kmod

bootstrap:
	./scripts/bootstrap.sh

vm-test: bootstrap
	$(INVOKE) vm-test $(ARGS)

test: bootstrap
	$(INVOKE) test $(ARGS)

lint: bootstrap
	$(INVOKE) lint $(ARGS)

clean:
	-$(MAKE) -C kmod clean 2>/dev/null
	rm -rf build

.PHONY: all modules bootstrap vm-test test lint clean
