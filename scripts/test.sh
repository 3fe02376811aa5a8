#!/usr/bin/env bash
# Configure, build and run the recmix test suite.
#
# Environment:
#   RECMIX_BUILD_DIR   build directory (default: build, relative to the repo root)
#   RECMIX_SANITIZE    sanitizers for tests/examples, e.g. address,undefined
#   CMAKE_BUILD_TYPE   build type (default: Release)
#   RECMIX_SKIP_DEPS=1 skip scripts/install-deps.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-deps.sh

build_dir="${RECMIX_BUILD_DIR:-build}"

cmake -S . -B "$build_dir" \
  -DRECMIX_BUILD_TESTS=ON \
  "-DRECMIX_SANITIZE=${RECMIX_SANITIZE:-}"
cmake --build "$build_dir" -j2
ctest --test-dir "$build_dir" --output-on-failure
