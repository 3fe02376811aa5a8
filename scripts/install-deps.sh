#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages needed to build and test recmix.
# Idempotent: does nothing when every package is already installed.
# Set RECMIX_SKIP_DEPS=1 to skip this step entirely.
#
#   bash scripts/install-deps.sh              what building and testing needs
#   bash scripts/install-deps.sh --hardening  also clang with libFuzzer and LLVM's OpenMP runtime,
#                                             for scripts/fuzz.sh and scripts/tsan.sh
set -euo pipefail

packages=(
  libeigen3-dev
  xtensor-dev
  libboost-serialization-dev
  doctest-dev
  libbenchmark-dev
  cmake
  g++
  make
)
if [[ "${1:-}" == "--hardening" ]]; then
  packages+=(clang-14 libclang-rt-14-dev libomp-14-dev)
fi

if [[ "${RECMIX_SKIP_DEPS:-0}" == "1" ]]; then
  echo "install-deps: RECMIX_SKIP_DEPS=1, skipping"
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: dpkg-query not found (not a Debian-based system);" \
       "install these packages' equivalents manually: ${packages[*]}" >&2
  exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all dependencies already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"

sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    # Never prompt when there is no terminal (CI).
    if [[ -t 0 ]]; then
      sudo_cmd=(sudo)
    else
      sudo_cmd=(sudo -n)
    fi
  else
    echo "install-deps: not root and sudo is unavailable; cannot install: ${missing[*]}" >&2
    exit 1
  fi
fi

"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
