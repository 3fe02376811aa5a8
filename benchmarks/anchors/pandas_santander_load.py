#!/usr/bin/python3
"""Reference timing of pandas reading a Santander train_ver2.csv, the anchor of recmix-santander-load.

    /usr/bin/python3 benchmarks/anchors/pandas_santander_load.py --data train_ver2.csv [--no-dtypes]

Reads the file the way Kaggle kernels of the competition do:

    pd.read_csv(path, dtype={...}, parse_dates=["fecha_dato", "fecha_alta"], low_memory=False)

with dtype hints where they are sensible: every product flag float32 ("NA" in two of them
makes int impossible), ncodpers int64, the code-like text columns (sexo, ind_empleado, ...,
indrel_1mes, which mixes 1, 1.0 and P) str. age, antiguedad and renta are left to pandas: they
are space-padded text with " NA" / "         NA", which read_csv cannot cast to a number
(dtype=float64 fails with "could not convert string to float: '         NA'"), so kernels
read them as object and convert afterwards; that conversion, pd.to_numeric(errors="coerce"),
is timed too, as convert_seconds, since recmix returns them as numbers. --no-dtypes reads
without hints (pandas infers everything).

Memory: with low_memory=False the C parser holds the whole file's tokens at once; on a
2.75 GB generated file (16.8 M rows) this reached 18.7 GB of peak RSS, so mind the machine.

Prints one JSON line on stdout: seconds (read_csv alone), convert_seconds, total_seconds,
rows, customers (distinct ncodpers), months (distinct fecha_dato), peak_rss_mb (getrusage
ru_maxrss of the whole process, MiB), the memory pandas reports for the frame (frame_mb) and
the versions. Run it with /usr/bin/python3 (Debian's python3-pandas).
"""

import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd

PRODUCTS = [
    "ind_ahor_fin_ult1", "ind_aval_fin_ult1", "ind_cco_fin_ult1", "ind_cder_fin_ult1", "ind_cno_fin_ult1",
    "ind_ctju_fin_ult1", "ind_ctma_fin_ult1", "ind_ctop_fin_ult1", "ind_ctpp_fin_ult1", "ind_deco_fin_ult1",
    "ind_deme_fin_ult1", "ind_dela_fin_ult1", "ind_ecue_fin_ult1", "ind_fond_fin_ult1", "ind_hip_fin_ult1",
    "ind_plan_fin_ult1", "ind_pres_fin_ult1", "ind_reca_fin_ult1", "ind_tjcr_fin_ult1", "ind_valo_fin_ult1",
    "ind_viv_fin_ult1", "ind_nomina_ult1", "ind_nom_pens_ult1", "ind_recibo_ult1",
]
TEXT = [
    "ind_empleado", "pais_residencia", "sexo", "ind_nuevo", "indrel", "ult_fec_cli_1t", "indrel_1mes",
    "tiprel_1mes", "indresi", "indext", "conyuemp", "canal_entrada", "indfall", "tipodom", "cod_prov",
    "nomprov", "ind_actividad_cliente", "segmento",
]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="train_ver2.csv-like file")
    parser.add_argument("--no-dtypes", action="store_true", help="let pandas infer every column")
    a = parser.parse_args()

    dtype = None
    if not a.no_dtypes:
        dtype = {p: np.float32 for p in PRODUCTS}
        dtype.update({c: str for c in TEXT})
        dtype["ncodpers"] = np.int64
    t0 = time.perf_counter()
    df = pd.read_csv(a.data, dtype=dtype, parse_dates=["fecha_dato", "fecha_alta"], low_memory=False)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    for col in ("age", "antiguedad", "renta"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    convert_seconds = time.perf_counter() - t1
    out = {
        "seconds": round(seconds, 3),
        "convert_seconds": round(convert_seconds, 3),
        "total_seconds": round(seconds + convert_seconds, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rows": int(len(df)),
        "customers": int(df["ncodpers"].nunique()),
        "months": int(df["fecha_dato"].nunique()),
        "frame_mb": round(df.memory_usage(deep=False).sum() / 1048576.0, 1),
        "dtypes": not a.no_dtypes,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "data": a.data,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
