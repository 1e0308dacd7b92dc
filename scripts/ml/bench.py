"""Speed benchmark helpers: generate the synthetic table, time scikit-learn, and write the report.

  bench.py generate OUT.csv
  bench.py sklearn DATA.csv OURS_LOGISTIC.json OURS_GBDT.json > sklearn.json
  bench.py report OURS_LOGISTIC.json OURS_GBDT.json SKLEARN.json OUT.md
"""
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

ROWS, NUMERIC, CATEGORICAL = 100_000, 17, 3


def generate(path):
    rng = np.random.default_rng(20240601)
    x = rng.normal(size=(ROWS, NUMERIC))
    cats = rng.integers(0, 6, size=(ROWS, CATEGORICAL))
    beta = rng.normal(scale=0.6, size=NUMERIC)
    effects = rng.normal(scale=0.8, size=(CATEGORICAL, 6))
    logit = x @ beta + 0.7 * np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] * x[:, 2]
    logit += sum(effects[j, cats[:, j]] for j in range(CATEGORICAL))
    y = rng.random(ROWS) < 1 / (1 + np.exp(-logit))
    import pandas as pd

    frame = pd.DataFrame(x, columns=[f"x{i + 1}" for i in range(NUMERIC)]).round(6)
    missing = rng.random(size=frame.shape) < 0.01
    frame = frame.mask(missing)
    for j in range(CATEGORICAL):
        frame[f"c{j + 1}"] = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])[cats[:, j]]
    frame["y"] = np.where(y, "yes", "no")
    frame.to_csv(path, index=False, na_rep="NA", lineterminator="\n")


def median_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2], times, result


def sklearn_bench(path, ours_logistic, ours_gbdt):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from threadpoolctl import threadpool_info
    import sklearn

    t = time.perf_counter()
    frame = pd.read_csv(path)
    parse = time.perf_counter() - t
    x, y = frame.drop(columns=["y"]), frame["y"]
    numeric = [c for c in x.columns if c.startswith("x")]
    categorical = [c for c in x.columns if c.startswith("c")]

    def pipeline(model):
        return make_pipeline(ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), categorical),
        ]), model)

    out = {"parseSeconds": parse, "sklearn": sklearn.__version__, "numpy": np.__version__,
           "threadpools": [{k: p.get(k) for k in ("internal_api", "num_threads", "architecture", "version")}
                           for p in threadpool_info()]}
    from threadpoolctl import threadpool_limits

    for name, ours, model in [
        ("logistic", ours_logistic, lambda: LogisticRegression(C=1.0, max_iter=100)),
        ("gbdt", ours_gbdt, lambda: HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=42)),
    ]:
        rows = ours["trainSplit"]
        xt, yt = x.iloc[rows], y.iloc[rows]
        # scikit-learn's own thread pools (OpenMP, BLAS) suffer badly when the two cores are busy with
        # other work, so time it both with its default threads and limited to one, and compare with the
        # faster of the two.
        seconds, all_times, fitted = median_time(lambda: pipeline(model()).fit(xt, yt))
        with threadpool_limits(limits=1):
            single, single_times, _ = median_time(lambda: pipeline(model()).fit(xt, yt))
        entry = {"trainSecondsDefaultThreads": seconds, "trainSecondsDefaultThreadsAll": all_times,
                 "trainSecondsOneThread": single, "trainSecondsOneThreadAll": single_times,
                 "trainSeconds": min(seconds, single), "trainRows": len(rows)}
        test = ours["testSplit"]
        entry["testAccuracy"] = float((fitted.predict(x.iloc[test]) == y.iloc[test]).mean())
        if name == "logistic":
            # Scoring throughput on the in-memory DataFrame (preprocessing included, as for MregML).
            count, t = 0, time.perf_counter()
            while time.perf_counter() - t < 2 or count == 0:
                fitted.predict(x)
                count += len(x)
            entry["batchRowsPerSecond"] = count / (time.perf_counter() - t)
            t = time.perf_counter()
            again = pd.read_csv(path)
            fitted.predict(again.drop(columns=["y"]))
            entry["endToEndSeconds"] = time.perf_counter() - t
            singles = [x.iloc[[i]] for i in range(2000)]
            t = time.perf_counter()
            for one in singles:
                fitted.predict(one)
            entry["singleRowPredictionsPerSecond"] = len(singles) / (time.perf_counter() - t)
        out[name] = entry
    return out


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    return model, nproc, (swift[0] if swift else "unknown")


def report(ours_logistic, ours_gbdt, theirs, out):
    model, nproc, swift = machine()
    lr, gb, sk = ours_logistic, ours_gbdt, theirs

    def ratio(a, b):
        return f"{a / b:.2f}x"

    lines = [
        "# MregML speed benchmark",
        "",
        "Generated by `scripts/ml/bench.sh` (do not edit by hand; rerun the script).",
        "",
        "## Machine",
        "",
        f"- CPU: {model} ({nproc} cores, shared with other work while measuring)",
        f"- OS: {platform.platform()}",
        f"- Swift: {swift}, `swift build -c release`",
        f"- Load average (1/5/15 min) before the run: {os.environ.get('MREG_BENCH_LOAD_BEFORE', '?')}, after: "
        f"{' / '.join(open('/proc/loadavg').read().split()[:3])}; the two cores are shared with other work, so the "
        "figures move with it",
        f"- Python {platform.python_version()}, scikit-learn {sk['sklearn']}, numpy {sk['numpy']}",
        f"- BLAS/OpenMP pools seen by threadpoolctl (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this run): "
        + "; ".join(f"{p['internal_api']} {p.get('version') or ''} {p.get('architecture') or ''} x{p['num_threads']}".strip()
                    for p in sk["threadpools"]),
        "",
        "## Data",
        "",
        f"Synthetic binary classification table: {int(lr['rows']):,} rows x {int(lr['columns']) - 1} features "
        f"({NUMERIC} numeric with 1% missing, {CATEGORICAL} categorical with 6 levels), target `y`; "
        "written by `bench.py generate` with a fixed seed. Both sides train on the same "
        f"{int(lr['trainRows']):,} training rows (MregML's split with seed 42: 64% train, 16% validation, 20% test).",
        "",
        "## Training time (median of 3)",
        "",
        "| algorithm | MregML | scikit-learn (default threads) | scikit-learn (1 thread) | MregML / faster scikit-learn | target |",
        "|---|---|---|---|---|---|",
        f"| logistic (C=1, max_iter=100) | {lr['trainSeconds']:.3f} s | {sk['logistic']['trainSecondsDefaultThreads']:.3f} s | "
        f"{sk['logistic']['trainSecondsOneThread']:.3f} s | {ratio(lr['trainSeconds'], sk['logistic']['trainSeconds'])} | <= 2x |",
        f"| gbdt (100 iterations, 31 leaves, no early stopping) | {gb['trainSeconds']:.3f} s | "
        f"{sk['gbdt']['trainSecondsDefaultThreads']:.3f} s | {sk['gbdt']['trainSecondsOneThread']:.3f} s | "
        f"{ratio(gb['trainSeconds'], sk['gbdt']['trainSeconds'])} | <= 2x |",
        "",
        "All runs: MregML "
        + ", ".join(f"{t:.3f}" for t in lr["trainSecondsAll"]) + " s (logistic), "
        + ", ".join(f"{t:.3f}" for t in gb["trainSecondsAll"]) + " s (gbdt); scikit-learn default threads "
        + ", ".join(f"{t:.3f}" for t in sk["logistic"]["trainSecondsDefaultThreadsAll"]) + " s / "
        + ", ".join(f"{t:.3f}" for t in sk["gbdt"]["trainSecondsDefaultThreadsAll"]) + " s, one thread "
        + ", ".join(f"{t:.3f}" for t in sk["logistic"]["trainSecondsOneThreadAll"]) + " s / "
        + ", ".join(f"{t:.3f}" for t in sk["gbdt"]["trainSecondsOneThreadAll"]) + " s. "
        "MregML's gbdt builds large histograms one feature group per thread on up to 2 threads; its logistic "
        "regression runs on one thread.",
        "",
        "MregML's time is the whole `train` call on the parsed table: split, preprocessing fit and transform of all "
        "parts, fitting, validation and test scoring, baseline statistics and artifact. scikit-learn's is "
        "`Pipeline(ColumnTransformer(imputer+scaler, imputer+one-hot), model).fit` on the training rows.",
        "",
        f"Test accuracy on the same {len(lr['testSplit']):,} test rows: logistic MregML {lr['testMetrics'].get('accuracy', 0):.4f}, "
        f"scikit-learn {sk['logistic']['testAccuracy']:.4f}; gbdt MregML {gb['testMetrics'].get('accuracy', 0):.4f}, "
        f"scikit-learn {sk['gbdt']['testAccuracy']:.4f}.",
        "",
        "## Scoring (logistic model)",
        "",
        "| measure | MregML | scikit-learn | target |",
        "|---|---|---|---|",
        f"| batch, in-memory columnar input ({int(lr['rows']):,} rows per call) | {lr['batchRowsPerSecond']:,.0f} rows/s | "
        f"{sk['logistic']['batchRowsPerSecond']:,.0f} rows/s | >= 1,000,000 rows/s |",
        f"| single-row calls | {lr['singleRowPredictionsPerSecond']:,.0f} calls/s | "
        f"{sk['logistic']['singleRowPredictionsPerSecond']:,.0f} calls/s | >= 20,000/s |",
        f"| end to end: CSV bytes -> parse -> input -> predict | {lr['endToEndSeconds']:.3f} s "
        f"({lr['endToEndRowsPerSecond']:,.0f} rows/s) | {sk['logistic']['endToEndSeconds']:.3f} s | |",
        f"| CSV parse alone | {lr['parseSeconds']:.3f} s | {sk['parseSeconds']:.3f} s (pandas) | well under 1 s |",
        "",
        "Batch scoring includes preprocessing (imputation, scaling, one-hot lookups) and building the label array. "
        "Single-row calls go through the same `Model.predict` with a one-row `ModelInput`.",
        "",
    ]
    parity = os.path.join(os.path.dirname(out), "..", ".build", "ml-parity.md")
    if os.path.exists(parity):
        with open(parity) as f:
            table = f.read().strip()
        lines += [
            "## Quality parity (scripts/ml/parity.sh)",
            "",
            "Test scores of MregML and scikit-learn trained on exactly the same training rows and scored on the same "
            "test rows (MregML's split, seeds 1-5, means over the seeds), default parameters on both sides: "
            "LogisticRegression(C=1), MLPClassifier/MLPRegressor (the regressor with a standardized target, as "
            "MregML does), HistGradientBoostingClassifier/Regressor, Ridge(alpha=1); the same preprocessing "
            "(median imputation + standardization, most-frequent imputation + one-hot). The check passes when "
            "MregML is at most 1.5 accuracy points or 0.02 R² below scikit-learn.",
            "",
            table,
            "",
        ]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "generate":
        generate(sys.argv[2])
    elif command == "sklearn":
        with open(sys.argv[3]) as a, open(sys.argv[4]) as b:
            print(json.dumps(sklearn_bench(sys.argv[2], json.load(a), json.load(b)), indent=2))
    elif command == "report":
        with open(sys.argv[2]) as a, open(sys.argv[3]) as b, open(sys.argv[4]) as c:
            report(json.load(a), json.load(b), json.load(c), sys.argv[5])
    else:
        sys.exit(f"unknown command {command}")
