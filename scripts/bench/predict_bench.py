"""Data, an XGBoost model, and XGBoost's own batch scoring for scripts/bench/predict.sh.

usage: predict_bench.py make OUT_DIR ROWS       writes OUT_DIR/big.csv (ROWS x 20 numeric features f0..f19
                                                and a 0/1 label), OUT_DIR/small.csv (its first 20,000 rows)
                                                and OUT_DIR/xgb/model.json (100 trees, depth 6, trained on
                                                the first 100,000 rows)
       predict_bench.py score OUT_DIR OUT.csv   times XGBoost's own path on big.csv: pandas read_csv,
                                                Booster.predict (all cores), DataFrame.to_csv; prints JSON
                                                (wall seconds per step, and CPU seconds of all threads)
"""
import json
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb

FEATURES = [f"f{i}" for i in range(20)]


def make(out, rows):
    rng = np.random.RandomState(11)
    x = rng.normal(size=(rows, 20)).round(6)
    signal = x[:, 0] - 0.7 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + 0.3 * np.sin(x[:, 4])
    label = (signal + rng.logistic(size=rows) * 0.5 > 0).astype(int)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["label"] = label
    frame.to_csv(f"{out}/big.csv", index=False)
    frame.head(20_000).to_csv(f"{out}/small.csv", index=False)
    train = frame.head(100_000)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "seed": 1},
                        xgb.DMatrix(train[FEATURES], label=train["label"]), num_boost_round=100)
    import os
    os.makedirs(f"{out}/xgb", exist_ok=True)
    booster.save_model(f"{out}/xgb/model.json")


def score(out, target):
    c0 = time.process_time()
    t0 = time.perf_counter()
    booster = xgb.Booster()
    booster.load_model(f"{out}/xgb/model.json")
    frame = pd.read_csv(f"{out}/big.csv")
    t1 = time.perf_counter()
    p = booster.predict(xgb.DMatrix(frame[FEATURES]))
    t2 = time.perf_counter()
    pd.DataFrame({"prediction": (p > 0.5).astype(int), "p1": p}).to_csv(target, index=False)
    t3 = time.perf_counter()
    c3 = time.process_time()
    print(json.dumps({"rows": len(frame), "read": t1 - t0, "predict": t2 - t1, "write": t3 - t2,
                      "read_predict": t2 - t0, "total": t3 - t0, "cpu_total": c3 - c0}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        score(sys.argv[2], sys.argv[3])
