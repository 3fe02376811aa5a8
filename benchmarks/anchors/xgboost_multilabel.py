#!/usr/bin/python3
"""Reference timing and quality of XGBoost one-vs-rest, the anchor of recmix-gbdt-bench.

    /usr/bin/python3 benchmarks/anchors/xgboost_multilabel.py --train TRAIN.csv --test TEST.csv \
        [--rounds 100] [--max-depth 6] [--learning-rate 0.1] [--max-bin 255] [--threads 2]

Reads the CSV files recmix-make-multilabel writes (and recmix-gbdt-bench reads): a header row,
columns named y... are the 0/1 labels, every other column is a feature in file order (c...
categoricals are used as plain numeric codes, XGBoost 1.7's default; an empty field is
missing). Loading is not timed into the results below (load_seconds reports it).

Training: one binary model per label, all with the same settings

    tree_method="hist", objective="binary:logistic", max_depth, eta, max_bin, lambda=1,
    min_child_weight=1, nthread=threads (XGBoost's defaults otherwise: base_score 0.5, ...)

The features are binned once: an xgboost.QuantileDMatrix built from the training features with
max_bin (the quantile sketch and the bin index, timed as binning_seconds), whose label is
replaced with set_label before each label's xgboost.train (train_seconds: the boosting of all
labels, binning excluded). predict_seconds: a DMatrix of the test features and the predictions
of every label's model (XGBoost predicts from raw values; there is no test binning).

Metrics, computed exactly as recmix-gbdt-bench computes them:
  mean_auc      mean over labels of the test ROC AUC (ties as mid-ranks), over the labels that
                have both classes in the test rows
  mean_logloss  mean over labels of the per-label mean binary log-loss, probabilities clipped
                to [1e-15, 1 - 1e-15]
  rare_auc      mean test AUC of the 12 labels with the lowest TRAIN prevalence (ties: lower
                label index first), over those with both classes in the test rows
  ndcg_at_3, map_at_7  per test row the labels ranked by predicted probability (descending,
                ties to the lower label index), binary gains; NDCG@3 with the ideal DCG over
                min(3, #positives) ranks, AP@7 divided by min(7, #positives); the mean over
                the rows with at least one positive label
  peak_rss_mb   the process's peak resident memory (getrusage ru_maxrss / 1024), loading included

--predictions-out P.csv also writes the test probabilities (header y..., one row per test row),
after everything is timed, so another program's metrics can be checked against these.

Prints one JSON line on stdout (those keys plus settings, sizes, per-label AUCs and versions).
Threads: OMP_NUM_THREADS is set to --threads before xgboost is imported and every call gets
nthread. Run it with /usr/bin/python3 (Debian's python3-xgboost 1.7 and python3-pandas).
"""

import argparse
import os
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="training CSV (header row)")
    parser.add_argument("--test", required=True, help="test CSV, same columns")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-bin", type=int, default=255)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--predictions-out", help="also write the test probabilities here (CSV, untimed)")
    args = parser.parse_args()
    if args.rounds < 1 or args.max_depth < 1 or args.max_bin < 2 or args.threads < 1 or not args.learning_rate > 0:
        parser.error("--rounds, --max-depth and --threads must be >= 1, --max-bin >= 2, --learning-rate > 0")
    return args


ARGS = parse_args()
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = str(ARGS.threads)

import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402

RARE_LABELS = 12


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def read_table(path):
    """(features float32 n x f, labels float32 n x L, feature names, label names)."""
    df = pd.read_csv(path, dtype=np.float32, engine="c")
    label_cols = [c for c in df.columns if c.startswith("y")]
    feature_cols = [c for c in df.columns if not c.startswith("y")]
    X = np.ascontiguousarray(df[feature_cols].to_numpy(dtype=np.float32))
    Y = np.ascontiguousarray(df[label_cols].to_numpy(dtype=np.float32))
    del df
    return X, Y, feature_cols, label_cols


def auc_mid_ranks(scores, labels):
    """ROC AUC with ties as mid-ranks (Mann-Whitney U); NaN when a class is missing."""
    n = scores.shape[0]
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    y = labels[order].astype(np.float64)
    # Tie groups: [starts[g], ends[g]) share the mid-rank (starts + 1 + ends) / 2 (1-based).
    change = np.flatnonzero(s[1:] != s[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [n]))
    mid = (starts + 1 + ends) / 2.0
    pos_per_group = np.add.reduceat(y, starts)
    positives = y.sum()
    negatives = n - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = float(np.dot(pos_per_group, mid))
    return (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)


def label_metrics(P, Y, train_prevalence):
    L = P.shape[1]
    aucs = [auc_mid_ranks(P[:, l], Y[:, l]) for l in range(L)]
    defined = [a for a in aucs if not np.isnan(a)]
    mean_auc = float(np.mean(defined)) if defined else float("nan")
    eps = 1e-15
    Pd = np.clip(P.astype(np.float64), eps, 1.0 - eps)
    ll = -np.where(Y == 1.0, np.log(Pd), np.log1p(-Pd)).mean(axis=0)
    mean_logloss = float(ll.mean())
    rare = np.argsort(train_prevalence, kind="stable")[: min(RARE_LABELS, L)]
    rare_defined = [aucs[l] for l in rare if not np.isnan(aucs[l])]
    rare_auc = float(np.mean(rare_defined)) if rare_defined else float("nan")
    return aucs, mean_auc, mean_logloss, rare_auc, [int(l) for l in rare]


def ranking_metrics(P, Y):
    """NDCG@3 and AP@7 (binary gains) averaged over the rows with a positive label."""
    n, L = P.shape
    order = np.argsort(-P, axis=1, kind="stable")  # descending, ties keep the lower label first
    rel = np.take_along_axis(Y, order, axis=1).astype(np.float64)
    n_pos = Y.sum(axis=1).astype(np.float64)
    keep = n_pos > 0
    k3 = min(3, L)
    discount = 1.0 / np.log2(np.arange(L, dtype=np.float64) + 2.0)
    dcg = (rel[:, :k3] * discount[:k3]).sum(axis=1)
    ideal_ranks = np.minimum(n_pos, 3).astype(np.int64)
    ideal_cum = np.concatenate(([0.0], np.cumsum(discount[:k3])))
    idcg = ideal_cum[ideal_ranks]
    ndcg = np.where(keep, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)
    k7 = min(7, L)
    hits = np.cumsum(rel[:, :k7], axis=1)
    precision_at = hits / np.arange(1, k7 + 1, dtype=np.float64)
    ap_sum = (precision_at * rel[:, :k7]).sum(axis=1)
    ap = np.where(keep, ap_sum / np.maximum(np.minimum(n_pos, 7.0), 1.0), 0.0)
    rows = int(keep.sum())
    if rows == 0:
        return float("nan"), float("nan"), 0
    return float(ndcg[keep].mean()), float(ap[keep].mean()), rows


def main():
    a = ARGS
    t0 = time.perf_counter()
    X, Y, features, labels = read_table(a.train)
    load_seconds = time.perf_counter() - t0
    if Y.shape[1] == 0:
        sys.exit(f"xgboost_multilabel.py: {a.train} has no y... label column")
    n_train, L = Y.shape
    train_prevalence = Y.mean(axis=0, dtype=np.float64)
    print(f"xgboost_multilabel.py: train {X.shape[0]} x {X.shape[1]} features, {L} labels, read in {load_seconds:.2f}s",
          file=sys.stderr)

    params = {
        "tree_method": "hist",
        "objective": "binary:logistic",
        "max_depth": a.max_depth,
        "eta": a.learning_rate,
        "max_bin": a.max_bin,
        "lambda": 1.0,
        "min_child_weight": 1.0,
        "nthread": a.threads,
        "verbosity": 1,
    }
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    dtrain = xgb.QuantileDMatrix(X, label=Y[:, 0], missing=np.nan, max_bin=a.max_bin, nthread=a.threads)
    binning_seconds = time.perf_counter() - t0
    del X

    boosters = []
    t0 = time.perf_counter()
    for l in range(L):
        dtrain.set_label(Y[:, l])
        boosters.append(xgb.train(params, dtrain, num_boost_round=a.rounds))
    train_seconds = time.perf_counter() - t0
    train_cpu_utilization = (cpu_seconds() - cpu0) / ((train_seconds + binning_seconds) * a.threads)
    del dtrain, Y
    peak_train = peak_rss_mb()
    print(f"xgboost_multilabel.py: binned in {binning_seconds:.2f}s, trained {L} labels in {train_seconds:.2f}s",
          file=sys.stderr)

    t0 = time.perf_counter()
    Xt, Yt, test_features, test_labels = read_table(a.test)
    load_seconds += time.perf_counter() - t0
    if test_features != features or test_labels != labels:
        sys.exit("xgboost_multilabel.py: the test file's columns differ from the training file's")

    t0 = time.perf_counter()
    dtest = xgb.DMatrix(Xt, missing=np.nan, nthread=a.threads)
    P = np.empty(Yt.shape, dtype=np.float32)
    for l, booster in enumerate(boosters):
        P[:, l] = booster.predict(dtest)
    predict_seconds = time.perf_counter() - t0

    aucs, mean_auc, mean_logloss, rare_auc, rare = label_metrics(P, Yt, train_prevalence)
    ndcg3, map7, ranked_rows = ranking_metrics(P, Yt)
    out = {
        "train_seconds": round(train_seconds, 4),
        "binning_seconds": round(binning_seconds, 4),
        "predict_seconds": round(predict_seconds, 4),
        "mean_auc": round(mean_auc, 6),
        "mean_logloss": round(mean_logloss, 6),
        "rare_auc": round(rare_auc, 6),
        "ndcg_at_3": round(ndcg3, 6),
        "map_at_7": round(map7, 6),
        "peak_rss_mb": round(peak_rss_mb(), 2),
        "peak_rss_train_mb": round(peak_train, 2),
        "load_seconds": round(load_seconds, 4),
        "train_cpu_utilization": round(train_cpu_utilization, 3),
        "mode": "one_vs_rest",
        "rounds": a.rounds,
        "max_depth": a.max_depth,
        "learning_rate": a.learning_rate,
        "max_bin": a.max_bin,
        "threads": a.threads,
        "train_rows": int(n_train),
        "test_rows": int(Yt.shape[0]),
        "features": len(features),
        "labels": L,
        "ranked_rows": ranked_rows,
        "rare_labels": rare,
        "per_label_auc": [None if np.isnan(v) else round(v, 5) for v in aucs],
        "xgboost": xgb.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "train": a.train,
        "test": a.test,
    }
    print(json.dumps(out))
    if a.predictions_out:
        pd.DataFrame(P, columns=labels).to_csv(a.predictions_out, index=False, float_format="%.9g")


if __name__ == "__main__":
    main()
