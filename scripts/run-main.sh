#!/usr/bin/env bash
# Build and run the main recmix program; arguments are passed through.
# Build output goes to stderr so stdout carries only the program's output.
#
# Environment:
#   RECMIX_BUILD_DIR   build directory (default: build, relative to the repo root)
#   RECMIX_SKIP_DEPS=1 skip scripts/install-deps.sh
set -euo pipefail

target="santander-hybrid"
target_subdir="examples"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${RECMIX_BUILD_DIR:-build}"
case "$build_dir" in
  /*) ;;
  *) build_dir="$root/$build_dir" ;;
esac

{
  bash "$root/scripts/install-deps.sh"
  cmake -S "$root" -B "$build_dir" -DRECMIX_BUILD_EXAMPLES=ON
  cmake --build "$build_dir" -j2 --target "$target"
} >&2

exec "$build_dir/$target_subdir/$target" "$@"
