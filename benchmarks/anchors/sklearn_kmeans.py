#!/usr/bin/python3
"""Reference timing of scikit-learn's KMeans, the anchor of recmix-kmeans-bench.

    /usr/bin/python3 benchmarks/anchors/sklearn_kmeans.py --data X.csv --k 16 \
        [--seed 0] [--threads 2] [--max-iter 100] [--tol 1e-4] [--no-seeding]

Reads the same CSV as recmix-kmeans-bench (a header row, then n rows of d numbers, e.g. from
recmix-make-blobs) into a float32 array with np.loadtxt (not timed), then times

    KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=100, tol=1e-4,
           random_state=seed).fit(X)                                   -> fit_seconds
    sklearn.cluster.kmeans_plusplus(X, k, random_state=seed)            -> init_seconds

The seeding is timed by the separate public call because KMeans does not report its own
seeding time; the seeding inside fit is the same k-means++ (2 + log k local trials) on the
mean-centred copy of X. --no-seeding skips the second call.

Threads: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to --threads
before numpy is imported, and both timed calls also run inside
threadpoolctl.threadpool_limits(limits=threads), so scikit-learn's OpenMP loops (the Lloyd
iterations) and any BLAS (k-means++ distances) use that many threads. The "threadpools" key
of the output lists what threadpoolctl saw.

Prints one JSON line on stdout: fit_seconds, init_seconds, iterations (n_iter_), inertia
(inertia_), peak_rss_mb (getrusage ru_maxrss of the whole process, loading included; MiB),
peak_rss_fit_mb (the same right after fit), peak_rss_load_mb (right after loading),
load_seconds, fit_cpu_utilization (CPU seconds of the fit / (wall seconds x threads); well
below 1 when other processes took the cores), rows, cols, x_mb, the thread pools and versions.
Run it with /usr/bin/python3 (Debian's python3-sklearn 1.2).
"""

import argparse
import os
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dense CSV with a header row")
    parser.add_argument("--k", type=int, required=True, help="number of clusters")
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--no-seeding", action="store_true", help="do not time kmeans_plusplus separately")
    args = parser.parse_args()
    if args.k < 1 or args.threads < 1 or args.max_iter < 1 or args.tol < 0:
        parser.error("--k, --threads and --max-iter must be >= 1, --tol >= 0")
    return args


ARGS = parse_args()
# Before numpy (and its BLAS) and scikit-learn's OpenMP runtime are loaded.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = str(ARGS.threads)

import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.cluster import KMeans, kmeans_plusplus  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    a = ARGS
    t0 = time.perf_counter()
    with open(a.data, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split(",")
    X = np.loadtxt(a.data, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    load_seconds = time.perf_counter() - t0
    if X.shape[1] != len(header):
        sys.exit(f"sklearn_kmeans.py: {a.data}: {X.shape[1]} columns but the header names {len(header)}")
    if a.k > X.shape[0]:
        sys.exit(f"sklearn_kmeans.py: k = {a.k} exceeds the {X.shape[0]} rows")
    load_peak = peak_rss_mb()
    print(f"sklearn_kmeans.py: {X.shape[0]} x {X.shape[1]} read in {load_seconds:.2f}s", file=sys.stderr)

    with threadpool_limits(limits=a.threads):
        pools = [
            {"user_api": p.get("user_api"), "internal_api": p.get("internal_api"), "num_threads": p.get("num_threads")}
            for p in threadpool_info()
        ]
        km = KMeans(n_clusters=a.k, init="k-means++", n_init=1, max_iter=a.max_iter, tol=a.tol, random_state=a.seed)
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        km.fit(X)
        fit_seconds = time.perf_counter() - t0
        # CPU time / (wall time * threads): well below 1 when other processes took our cores.
        fit_cpu_utilization = (cpu_seconds() - cpu0) / (fit_seconds * a.threads)
        fit_peak = peak_rss_mb()
        init_seconds = None
        if not a.no_seeding:
            t0 = time.perf_counter()
            kmeans_plusplus(X, a.k, random_state=a.seed)
            init_seconds = time.perf_counter() - t0

    out = {
        "fit_seconds": round(fit_seconds, 6),
        "init_seconds": None if init_seconds is None else round(init_seconds, 6),
        "iterations": int(km.n_iter_),
        "inertia": float(km.inertia_),
        "peak_rss_mb": round(peak_rss_mb(), 2),
        "peak_rss_fit_mb": round(fit_peak, 2),
        "peak_rss_load_mb": round(load_peak, 2),
        "load_seconds": round(load_seconds, 6),
        "threads": a.threads,
        "fit_cpu_utilization": round(fit_cpu_utilization, 3),
        "rows": int(X.shape[0]),
        "cols": int(X.shape[1]),
        "k": a.k,
        "seed": a.seed,
        "max_iter": a.max_iter,
        "tol": a.tol,
        "x_mb": round(X.nbytes / 1048576.0, 3),
        "threadpools": pools,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "data": a.data,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
