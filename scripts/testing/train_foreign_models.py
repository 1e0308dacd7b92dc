"""Trains small XGBoost and LightGBM models for MregML's parity tests and records the libraries' own predictions.

usage: train_foreign_models.py OUT_DIR

Writes OUT_DIR/<case>.<json|ubj|txt> model files, and OUT_DIR/cases.json:
  {"columns": {"x0": [...], ..., "cat": [...], "color": [...]},   # unseen rows, null = missing
   "cases": [{"name", "file", "format", "features": [column names in model order],
              "output": "proba1" | "proba" | "value" | "margin" | "index",
              "predict": [...] (Booster.predict, flattened row-major), "margin": [...] (raw margins)}]}
Data is generated (seeded): 5 numeric features with missing values (x4 has none in training, so LightGBM
gives it missing_type None, and unseen rows then do have some), a categorical code feature `cat` (0..5) and,
for the pandas models, a string category `color` and an integer category `grade` (10..60, coded out of order).
"""
import json
import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb

RNG = np.random.RandomState(7)
N_TRAIN, N_TEST = 800, 300
NUMERIC = ["x0", "x1", "x2", "x3", "x4"]
COLORS = ["red", "green", "blue", "amber"]


def make_rows(n, test):
    x = RNG.normal(size=(n, 5))
    cat = RNG.randint(0, 6, size=n).astype(float)
    color = RNG.randint(0, len(COLORS), size=n)
    for j in range(4):
        x[RNG.rand(n) < 0.12, j] = np.nan
    if test:
        x[RNG.rand(n) < 0.1, 4] = np.nan
        cat[RNG.rand(n) < 0.08] = np.nan
        x[:5, 1] = 0.0  # exact zeros for LightGBM's zero_as_missing
    return x, cat, color


def signal(x, cat, color):
    z = np.nan_to_num(x, nan=0.3)
    s = 1.2 * z[:, 0] - 0.8 * z[:, 1] + 0.5 * z[:, 2] * z[:, 3] + 0.3 * z[:, 4]
    s += np.where(np.isnan(cat), 0.0, np.isin(cat, [1, 4]).astype(float) * 1.1 - 0.4)
    s += (color == 2) * 0.9 - (color == 0) * 0.5
    return s


X, CAT, COLOR = make_rows(N_TRAIN, False)
XT, CATT, COLORT = make_rows(N_TEST, True)
S = signal(X, CAT, COLOR)
LABELS = {
    "binary": (S + RNG.logistic(size=N_TRAIN) * 0.5 > 0).astype(int),
    "multi": np.digitize(S + RNG.normal(scale=0.4, size=N_TRAIN), [-0.6, 0.6]),
    "value": S + RNG.normal(scale=0.3, size=N_TRAIN),
    "unit": 1 / (1 + np.exp(-S)),
    "count": RNG.poisson(np.exp(0.4 * S)),
}
FULL = np.column_stack([X, CAT])
FULL_T = np.column_stack([XT, CATT])
FEATURES = NUMERIC + ["cat"]


def flat(a):
    return [None if np.isnan(v) else float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def xgb_cases(out):
    types = ["q"] * 5 + ["c"]
    train = xgb.DMatrix(FULL, label=None, feature_names=FEATURES, feature_types=types, enable_categorical=True)
    test = xgb.DMatrix(FULL_T, feature_names=FEATURES, feature_types=types, enable_categorical=True)
    specs = [
        ("xgb-binary", {"objective": "binary:logistic"}, "binary", "proba1"),
        ("xgb-logitraw", {"objective": "binary:logitraw"}, "binary", "margin"),
        ("xgb-softprob", {"objective": "multi:softprob", "num_class": 3}, "multi", "proba"),
        ("xgb-softmax", {"objective": "multi:softmax", "num_class": 3}, "multi", "index"),
        ("xgb-squared", {"objective": "reg:squarederror"}, "value", "value"),
        ("xgb-logistic", {"objective": "reg:logistic"}, "unit", "value"),
        ("xgb-absolute", {"objective": "reg:absoluteerror"}, "value", "value"),
        ("xgb-poisson", {"objective": "count:poisson"}, "count", "value"),
        ("xgb-dart", {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0,
                      "seed": 3}, "binary", "proba1"),
        ("xgb-rf", {"objective": "binary:logistic", "num_parallel_tree": 4, "subsample": 0.8,
                    "colsample_bynode": 0.8, "seed": 2}, "binary", "proba1"),
        ("xgb-dart-multi", {"objective": "multi:softprob", "num_class": 3, "booster": "dart", "rate_drop": 0.2,
                            "seed": 5}, "multi", "proba"),
    ]
    cases = []
    for name, params, label, output in specs:
        train.set_label(LABELS[label])
        p = {"max_depth": 4, "eta": 0.3, "max_cat_to_onehot": 1, "nthread": 1, **params}
        booster = xgb.train(p, train, num_boost_round=12)
        predict = booster.predict(test)
        margin = booster.predict(test, output_margin=True)
        for ext, fmt in (("json", "xgboost-json"), ("ubj", "xgboost-ubjson")):
            booster.save_model(os.path.join(out, f"{name}.{ext}"))
            cases.append({"name": f"{name}.{ext}", "file": f"{name}.{ext}", "format": fmt, "features": FEATURES,
                          "output": output, "predict": flat(predict), "margin": flat(margin)})
    # A pandas frame with a string and an integer category: XGBoost >= 3.1 keeps both in `cats` and recodes.
    frame, frame_t = pandas_frames(with_grade=True)
    train = xgb.DMatrix(frame, label=LABELS["binary"], enable_categorical=True)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "max_cat_to_onehot": 1,
                         "nthread": 1}, train, num_boost_round=12)
    test = xgb.DMatrix(frame_t, enable_categorical=True)
    for ext, fmt in (("json", "xgboost-json"), ("ubj", "xgboost-ubjson")):
        booster.save_model(os.path.join(out, f"xgb-pandas.{ext}"))
        cases.append({"name": f"xgb-pandas.{ext}", "file": f"xgb-pandas.{ext}", "format": fmt,
                      "features": NUMERIC + ["color", "grade"], "output": "proba1", "predict": flat(booster.predict(test)),
                      "margin": flat(booster.predict(test, output_margin=True))})
    return cases


def pandas_frames(with_grade):
    """Training and unseen rows as pandas frames with a string category `color` (and an integer one, `grade`)."""
    frames = []
    for x, cat, color in ((X, CAT, COLOR), (XT, CATT, COLORT)):
        frame = pd.DataFrame(x, columns=NUMERIC)
        frame["color"] = pd.Categorical([COLORS[c] for c in color], categories=COLORS)
        if with_grade:
            frame["grade"] = pd.Categorical(GRADES_OF(cat), categories=[60, 10, 20, 30, 40, 50])
        frames.append(frame)
    return frames


def GRADES_OF(cat):
    return [None if np.isnan(c) else int(c) * 10 + 10 for c in cat]


def lgb_cases(out):
    base = {"num_leaves": 15, "min_data_in_leaf": 5, "learning_rate": 0.2, "verbose": -1, "num_threads": 1,
            "seed": 1, "deterministic": True, "cat_smooth": 1, "min_data_per_group": 5}
    specs = [
        ("lgb-binary", {"objective": "binary"}, "binary", "proba1"),
        ("lgb-multiclass", {"objective": "multiclass", "num_class": 3}, "multi", "proba"),
        ("lgb-regression", {"objective": "regression"}, "value", "value"),
        ("lgb-l1", {"objective": "regression_l1"}, "value", "value"),
        ("lgb-poisson", {"objective": "poisson"}, "count", "value"),
        ("lgb-zero-missing", {"objective": "regression", "zero_as_missing": True}, "value", "value"),
        ("lgb-rf", {"objective": "binary", "boosting": "rf", "bagging_fraction": 0.7, "bagging_freq": 1,
                    "feature_fraction": 0.8}, "binary", "proba1"),
    ]
    cases = []
    for name, params, label, output in specs:
        data = lgb.Dataset(FULL, label=LABELS[label], feature_name=FEATURES, categorical_feature=[5], free_raw_data=False)
        booster = lgb.train({**base, **params}, data, num_boost_round=15)
        booster.save_model(os.path.join(out, f"{name}.txt"))
        raw = booster.predict(FULL_T, raw_score=True)
        if params.get("boosting") == "rf":
            raw = raw / booster.current_iteration()  # raw_score skips average_output's division; MregML's does not
        cases.append({"name": name, "file": f"{name}.txt", "format": "lightgbm-text", "features": FEATURES,
                      "output": output, "predict": flat(booster.predict(FULL_T)), "margin": flat(raw)})
    # A pandas frame with a string category: the file maps labels to codes in `pandas_categorical`.
    frame, frame_t = pandas_frames(with_grade=False)
    booster = lgb.train({**base, "objective": "binary"}, lgb.Dataset(frame, label=LABELS["binary"]), num_boost_round=15)
    booster.save_model(os.path.join(out, "lgb-pandas.txt"))
    cases.append({"name": "lgb-pandas", "file": "lgb-pandas.txt", "format": "lightgbm-text",
                  "features": NUMERIC + ["color"], "output": "proba1", "predict": flat(booster.predict(frame_t)),
                  "margin": flat(booster.predict(frame_t, raw_score=True))})
    return cases


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = xgb_cases(out) + lgb_cases(out)
    columns = {name: flat(XT[:, j]) for j, name in enumerate(NUMERIC)}
    columns["cat"] = flat(CATT)
    columns["color"] = [COLORS[c] for c in COLORT]
    columns["grade"] = [None if g is None else float(g) for g in GRADES_OF(CATT)]
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"columns": columns, "cases": cases, "versions": {"xgboost": xgb.__version__,
                                                                  "lightgbm": lgb.__version__}}, f)


if __name__ == "__main__":
    main()
