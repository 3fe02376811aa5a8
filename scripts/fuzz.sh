#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/) with clang and run each one for a given time.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGETs default to every fuzz_* target. Each target starts from
# the committed seeds (fuzz/corpus/<target>/) plus what earlier runs found (kept in the build
# directory, out of git: <build>/corpus/<target>/). Crash reproducers land in
# <build>/artifacts/<target>/; a crash makes the script exit non-zero. A summary table gives
# executions, coverage (edges) and corpus size per target.
#
# Environment:
#   RECMIX_FUZZ_BUILD_DIR  build directory (default: build-fuzz)
#   RECMIX_FUZZ_SUMMARY    where the summary table goes (default: <build>/fuzz-summary.txt)
#   RECMIX_FUZZ_SMOKE=1    run over the committed seeds only, in a scratch corpus (CI smoke run)
#   RECMIX_FUZZ_MAX_LEN    largest input in bytes (default: 8192 for the text targets fuzz_csv and
#                          fuzz_santander, whose cost grows with the input; 65536 for model files)
#   CXX / CC               compilers (default: clang++-14 / clang-14)
#
# Needs clang with libFuzzer (Debian: clang-14 libclang-rt-14-dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${1:-60}"
shift || true
build_dir="${RECMIX_FUZZ_BUILD_DIR:-build-fuzz}"
smoke="${RECMIX_FUZZ_SMOKE:-0}"
export CC="${CC:-clang-14}"
export CXX="${CXX:-clang++-14}"

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "fuzz.sh: $CXX not found; install clang-14 and libclang-rt-14-dev (Debian)" >&2
  exit 2
fi

cmake -S . -B "$build_dir" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
  -DRECMIX_BUILD_FUZZERS=ON \
  -DRECMIX_BUILD_TESTS=OFF \
  -DRECMIX_BUILD_EXAMPLES=OFF \
  -DRECMIX_BUILD_BENCHMARKS=OFF \
  -DRECMIX_NATIVE_ARCH=OFF >/dev/null
cmake --build "$build_dir" -j2 --target fuzzers

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for source in fuzz/fuzz_*.cpp; do
    name="$(basename "$source" .cpp)"
    targets+=("$name")
  done
fi

# The fuzzers are single-threaded: keep OpenMP inside the library from spawning threads.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp:print_suppressions=0}"

status=0
summary="${RECMIX_FUZZ_SUMMARY:-$build_dir/fuzz-summary.txt}"
printf '%-28s %12s %10s %8s %8s %s\n' target executions exec/s edges corpus result >"$summary"
for target in "${targets[@]}"; do
  seeds="fuzz/corpus/$target"
  if [[ ! -d "$seeds" ]]; then
    echo "fuzz.sh: no seed corpus $seeds" >&2
    exit 2
  fi
  if [[ "$smoke" == "1" ]]; then
    work="$build_dir/corpus-smoke/$target"
    rm -rf "$work"
  else
    work="$build_dir/corpus/$target"
  fi
  artifacts="$build_dir/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  log="$build_dir/logs/$target.log"
  mkdir -p "$(dirname "$log")"
  echo "=== $target: ${seconds}s ==="
  result=ok
  case "$target" in
    fuzz_csv | fuzz_santander) max_len="${RECMIX_FUZZ_MAX_LEN:-8192}" ;;
    *) max_len="${RECMIX_FUZZ_MAX_LEN:-65536}" ;;
  esac
  # -rss_limit_mb / -malloc_limit_mb: a model file must not make the loader allocate gigabytes.
  if ! "$build_dir/fuzz/$target" "$work" "$seeds" \
      -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len="$max_len" \
      -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    result=FAILED
    status=1
    tail -n 60 "$log" >&2
  fi
  execs="$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')"
  rate="$(grep -h 'stat::average_exec_per_sec' "$log" | awk '{s += $2} END {print s + 0}')"
  edges="$(grep -ho 'cov: [0-9]*' "$log" | awk '{if ($2 > m) m = $2} END {print m + 0}')"
  files="$(find "$work" -type f | wc -l)"
  printf '%-28s %12s %10s %8s %8s %s\n' "$target" "$execs" "$rate" "$edges" "$files" "$result" >>"$summary"
done

echo
cat "$summary"
awk 'NR > 1 {s += $2} END {print "total executions: " s}' "$summary"
exit "$status"
