#!/usr/bin/env bash
# Build the multi-threaded tests with clang and ThreadSanitizer and run them; any race report
# makes the script exit non-zero.
#
#   bash scripts/tsan.sh [TEST...]
#
# TESTs default to every test that runs code on several threads (OpenMP or std::thread); see
# default_tests below. Each runs with OMP_NUM_THREADS threads per OpenMP team.
#
# Why clang with LLVM's libomp and Archer: GCC's libgomp is not built with TSan, so TSan cannot
# see its barriers and reports races that are not there. LLVM's libomp implements OMPT, and the
# Archer tool (libarcher.so, loaded by libomp through OMP_TOOL_LIBRARIES) tells TSan about every
# OpenMP synchronisation (barriers, the end of a parallel region, critical sections, reductions).
# It prints "Archer detected OpenMP application with TSan" when active (ARCHER_OPTIONS=verbose=1).
#
# Environment:
#   RECMIX_TSAN_BUILD_DIR    build directory (default: build-tsan)
#   RECMIX_TSAN_OMP_THREADS  OMP_NUM_THREADS for the runs (default: 2; 4 provokes more interleavings)
#   RECMIX_TSAN_JOBS         parallel compile jobs (default: 2)
#   CXX                      compiler (default: clang++-14)
#   LLVM_DIR                 the LLVM install holding libomp and Archer (default: /usr/lib/llvm-14)
#   TSAN_OPTIONS, ARCHER_OPTIONS  passed through; TSAN_OPTIONS defaults to the settings below
#
# Needs (Debian): clang-14 libclang-rt-14-dev libomp-14-dev. The script installs nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build_dir="${RECMIX_TSAN_BUILD_DIR:-build-tsan}"
omp_threads="${RECMIX_TSAN_OMP_THREADS:-2}"
jobs="${RECMIX_TSAN_JOBS:-2}"
export CXX="${CXX:-clang++-14}"
llvm_dir="${LLVM_DIR:-/usr/lib/llvm-14}"
archer="$llvm_dir/lib/libarcher.so"
packages="clang-14 libclang-rt-14-dev libomp-14-dev"

# The tests whose code runs on several threads. test_serialization (ALS fits with threads = 0, 1,
# 2) is left out: those fits are covered by test_als.
default_tests=(
  test_als test_blend test_cluster test_concurrency test_core test_metrics
  test_santander_features test_santander_generate test_santander_load test_trees
)
tests=("$@")
if [[ ${#tests[@]} -eq 0 ]]; then tests=("${default_tests[@]}"); fi

die() {
  echo "tsan.sh: $*" >&2
  exit 2
}

# ---- prerequisites: compiler, TSan runtime, libomp (header and library), Archer -------------
command -v "$CXX" >/dev/null 2>&1 || die "$CXX not found; install: $packages"
[[ -f "$archer" ]] || die "$archer not found (Archer ships with libomp); install: $packages"
probe_dir="$(mktemp -d)"
trap 'rm -rf "$probe_dir"' EXIT
cat >"$probe_dir/probe.cpp" <<'EOF'
#include <omp.h>
int main() { return omp_get_max_threads() > 0 ? 0 : 1; }
EOF
if ! "$CXX" -fsanitize=thread -fopenmp=libomp "$probe_dir/probe.cpp" -o "$probe_dir/probe" >"$probe_dir/log" 2>&1; then
  cat "$probe_dir/log" >&2
  die "$CXX cannot build a ThreadSanitizer + libomp program; install: $packages"
fi

# ---- configure and build ---------------------------------------------------------------------
started=$SECONDS
# A new build directory uses Ninja when there is one: it builds the test executables side by
# side, where make builds the goals given on one command line one after the other (and each
# test is a single source file, so -j2 would otherwise compile one file at a time).
generator=()
if [[ ! -f "$build_dir/CMakeCache.txt" && -z "${CMAKE_GENERATOR:-}" ]] && command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi
mkdir -p "$build_dir"
configure_log="$build_dir/tsan-configure.log"
cmake -S . -B "$build_dir" "${generator[@]}" \
  "-DCMAKE_CXX_COMPILER=$CXX" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
  -DRECMIX_BUILD_TESTS=ON \
  -DRECMIX_BUILD_EXAMPLES=OFF \
  -DRECMIX_BUILD_BENCHMARKS=OFF \
  -DRECMIX_SANITIZE=thread \
  -DRECMIX_NATIVE_ARCH=OFF >"$configure_log" 2>&1 || {
  cat "$configure_log" >&2
  die "configure failed (a build directory made with another compiler or generator? remove $build_dir)"
}
compiler_id="$(sed -n 's/^CMAKE_CXX_COMPILER_ID:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"
[[ -z "$compiler_id" || "$compiler_id" == Clang ]] ||
  die "$build_dir was configured with $compiler_id, not clang; remove it or pick another RECMIX_TSAN_BUILD_DIR"
grep -q '^OpenMP_CXX_FLAGS:STRING=.*-fopenmp' "$build_dir/CMakeCache.txt" ||
  die "CMake did not find OpenMP for $CXX (the tests would run single-threaded); install: $packages"

cmake --build "$build_dir" -j"$jobs" --target "${tests[@]}"
built=$SECONDS

# Every test binary must use LLVM's libomp: libgomp would give false reports (and no Archer).
for t in "${tests[@]}"; do
  bin="$build_dir/tests/$t"
  [[ -x "$bin" ]] || die "no test binary $bin"
  libs="$(ldd "$bin")"
  grep -q 'libomp\.so' <<<"$libs" || die "$t does not link libomp.so:"$'\n'"$libs"
  if grep -q 'libgomp' <<<"$libs"; then die "$t links GCC's libgomp:"$'\n'"$libs"; fi
done

# ---- run --------------------------------------------------------------------------------------
# ignore_noninstrumented_modules: libomp itself is not instrumented; Archer describes its
# synchronisation instead. halt_on_error: stop at the first report (exit code 66).
export TSAN_OPTIONS="${TSAN_OPTIONS:-ignore_noninstrumented_modules=1 halt_on_error=1 second_deadlock_stack=1 history_size=4}"
if [[ -f scripts/tsan.supp ]]; then TSAN_OPTIONS="$TSAN_OPTIONS suppressions=$root/scripts/tsan.supp"; fi
export OMP_TOOL_LIBRARIES="$archer"
# verbose=1: Archer says when it is active (checked below).
archer_options="${ARCHER_OPTIONS:-}"
[[ "$archer_options" == *verbose=* ]] || archer_options="${archer_options:+$archer_options }verbose=1"
export ARCHER_OPTIONS="$archer_options"
export OMP_NUM_THREADS="$omp_threads"

mkdir -p "$build_dir/tsan-logs"
status=0
summary=()
for t in "${tests[@]}"; do
  log="$build_dir/tsan-logs/$t.log"
  t0=$SECONDS
  echo "=== $t (OMP_NUM_THREADS=$OMP_NUM_THREADS)"
  rc=0
  "$build_dir/tests/$t" >"$log" 2>&1 || rc=$?
  result=ok
  if grep -q 'WARNING: ThreadSanitizer' "$log"; then
    result="RACE (see $log)"
    status=1
  elif [[ $rc -ne 0 ]]; then
    result="FAILED, exit $rc (see $log)"
    status=1
  fi
  # Without Archer every OpenMP barrier looks like a race to TSan: say so next to a report.
  if [[ "$ARCHER_OPTIONS" == *verbose=1* ]] && ! grep -q 'Archer detected OpenMP application with TSan' "$log"; then
    result="$result; Archer was not loaded"
  fi
  if [[ "$result" == RACE* ]]; then
    sed -n '/WARNING: ThreadSanitizer/,$p' "$log" | head -n 200 >&2
  elif [[ "$result" != ok ]]; then
    grep -v 'Archer detected' "$log" | tail -n 80 >&2
  fi
  summary+=("$(printf '%-26s %5ss  %s' "$t" "$((SECONDS - t0))" "$result")")
done

echo
printf '%s\n' "${summary[@]}"
echo "configure + build $((built - started))s, runs $((SECONDS - built))s"
exit "$status"
