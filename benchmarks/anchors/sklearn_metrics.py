#!/usr/bin/python3
"""Reference timing of scikit-learn's ndcg_score, the anchor of recmix-metrics-bench.

    /usr/bin/python3 benchmarks/anchors/sklearn_metrics.py --scores S.csv --truth T.csv \
        [--k 7] [--repeat 1] [--ignore-ties]

Reads the same two CSV files as recmix-metrics-bench (a header row, then one row per user:
dense scores, and 0/1 relevance of the same shape; recmix-make-scores writes them), then times
sklearn.metrics.ndcg_score(truth, scores, k=k) with its default ignore_ties=False, the call
users make. --ignore-ties also times ignore_ties=True. Loading is not timed. Prints one JSON
line on stdout: seconds (median of --repeat calls), ndcg_at_k, users, load_seconds, versions.

scikit-learn's NDCG averages over all rows, a row without a relevant item scoring 0: compare
ndcg_at_k with recmix-metrics-bench --average all_users. With continuous scores (no ties
within a row) both tie rules give the same value.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import sklearn
from sklearn.metrics import ndcg_score


def load(path):
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if values.shape[1] != len(header):
        sys.exit(f"sklearn_metrics.py: {path}: {values.shape[1]} columns but the header names {len(header)}")
    return header, values


def timed(fn, repeat):
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scores", required=True, help="dense score matrix (CSV with a header row)")
    parser.add_argument("--truth", required=True, help="0/1 relevance matrix of the same shape")
    parser.add_argument("--k", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="calls to time; the median is reported")
    parser.add_argument("--ignore-ties", action="store_true", help="also time ndcg_score(..., ignore_ties=True)")
    args = parser.parse_args()
    if args.k < 1 or args.repeat < 1:
        parser.error("--k and --repeat must be >= 1")

    t0 = time.perf_counter()
    score_columns, scores = load(args.scores)
    truth_columns, truth = load(args.truth)
    load_seconds = time.perf_counter() - t0
    if scores.shape != truth.shape:
        sys.exit(f"sklearn_metrics.py: scores are {scores.shape} but truth is {truth.shape}")
    if score_columns != truth_columns:
        sys.exit("sklearn_metrics.py: the two files name different columns")
    if not np.isin(truth, (0.0, 1.0)).all():
        sys.exit("sklearn_metrics.py: the relevance matrix must hold only 0 and 1")

    seconds, value = timed(lambda: ndcg_score(truth, scores, k=args.k), args.repeat)
    out = {
        "seconds": seconds,
        "ndcg_at_k": float(value),
        "users": int(scores.shape[0]),
        "items": int(scores.shape[1]),
        "k": args.k,
        "users_with_relevant": int((truth.sum(axis=1) > 0).sum()),
        "ignore_ties": False,
        "repeat": args.repeat,
        "load_seconds": load_seconds,
    }
    if args.ignore_ties:
        s, v = timed(lambda: ndcg_score(truth, scores, k=args.k, ignore_ties=True), args.repeat)
        out["ignore_ties_seconds"] = s
        out["ignore_ties_ndcg_at_k"] = float(v)
    out["sklearn"] = sklearn.__version__
    out["numpy"] = np.__version__
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
