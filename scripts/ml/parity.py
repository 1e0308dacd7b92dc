"""Trains MregML (through mreg-ml-bench) and scikit-learn on the same train/test rows and compares test scores.

For each data set, algorithm and seed, mreg-ml-bench trains with default parameters and reports its split;
scikit-learn then fits the matching estimator on exactly the same training rows (with the same
preprocessing: median imputation + standardization for numbers, most-frequent imputation + one-hot for
categories) and is scored on the same test rows. Scores are averaged over the seeds.
"""
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn.exceptions import ConvergenceWarning

warnings.filterwarnings("ignore", category=ConvergenceWarning)
BENCH, EXAMPLES, REPORT = sys.argv[1], sys.argv[2], sys.argv[3]
SEEDS = [1, 2, 3, 4, 5]
ACCURACY_TOLERANCE = 1.5  # points
R2_TOLERANCE = 0.02

CASES = [
    ("penguins.csv", "species", "classification", ["logistic", "mlp", "gbdt"]),
    ("breast_cancer.csv", "diagnosis", "classification", ["logistic", "mlp", "gbdt"]),
    ("wine.csv", "cultivar", "classification", ["logistic", "mlp", "gbdt"]),
    ("diabetes.csv", "progression", "regression", ["linear", "mlp", "gbdt"]),
]


def sklearn_model(algorithm, task, seed):
    if task == "classification":
        return {
            "logistic": LogisticRegression(C=1.0, max_iter=100),
            "mlp": MLPClassifier(random_state=seed),
            "gbdt": HistGradientBoostingClassifier(random_state=seed),
        }[algorithm]
    return {
        "linear": Ridge(alpha=1.0),
        # MregML standardizes the regression target for its MLP; do the same here.
        "mlp": TransformedTargetRegressor(MLPRegressor(random_state=seed), transformer=StandardScaler()),
        "gbdt": HistGradientBoostingRegressor(random_state=seed),
    }[algorithm]


def preprocessor(frame):
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    parts = [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)]
    if categorical:
        parts.append(("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                           OneHotEncoder(handle_unknown="ignore")), categorical))
    return ColumnTransformer(parts)


rows = []
failures = []
for file, target, task, algorithms in CASES:
    path = f"{EXAMPLES}/{file}"
    data = pd.read_csv(path)
    x_all, y_all = data.drop(columns=[target]), data[target]
    for algorithm in algorithms:
        ours, theirs = [], []
        for seed in SEEDS:
            out = subprocess.run([BENCH, "train", "--data", path, "--target", target, "--algorithm", algorithm,
                                  "--seed", str(seed)], check=True, capture_output=True, text=True).stdout
            result = json.loads(out)
            train_rows, test_rows = result["split"]["train"], result["split"]["test"]
            metric = "accuracy" if task == "classification" else "r2"
            ours.append(result["metrics"]["test"][metric])
            pipe = make_pipeline(preprocessor(x_all), sklearn_model(algorithm, task, seed))
            pipe.fit(x_all.iloc[train_rows], y_all.iloc[train_rows])
            predicted = pipe.predict(x_all.iloc[test_rows])
            truth = y_all.iloc[test_rows]
            theirs.append(accuracy_score(truth, predicted) if task == "classification" else r2_score(truth, predicted))
        ours_mean, theirs_mean = float(np.mean(ours)), float(np.mean(theirs))
        if task == "classification":
            diff = (ours_mean - theirs_mean) * 100
            ok = diff >= -ACCURACY_TOLERANCE
            shown = (f"{ours_mean * 100:.2f}%", f"{theirs_mean * 100:.2f}%", f"{diff:+.2f} pts")
        else:
            diff = ours_mean - theirs_mean
            ok = diff >= -R2_TOLERANCE
            shown = (f"{ours_mean:.4f}", f"{theirs_mean:.4f}", f"{diff:+.4f}")
        rows.append((file, algorithm, "accuracy" if task == "classification" else "R²", *shown, "ok" if ok else "FAIL",
                     " ".join(f"{v:.3f}" for v in ours), " ".join(f"{v:.3f}" for v in theirs)))
        print(f"{file:18} {algorithm:9} ours {shown[0]:>8}  sklearn {shown[1]:>8}  {shown[2]:>11}  {'ok' if ok else 'FAIL'}",
              flush=True)
        if not ok:
            failures.append(f"{file} {algorithm}")

with open(REPORT, "w") as f:
    f.write("| data set | algorithm | metric | MregML | scikit-learn | difference | verdict | MregML per seed | scikit-learn per seed |\n")
    f.write("|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        f.write("| " + " | ".join(r) + " |\n")
print(f"{len(rows) - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
