"""Trains the models the MLServer engine tests serve, each in a folder of its own ready for `mreg register --from`.

usage: train_mlserver_models.py OUT_DIR

Writes:
  OUT_DIR/sk-v1/model.joblib, OUT_DIR/sk-v2/model.joblib   scikit-learn pipelines (a string column `color`
                                                           one-hot encoded, numeric x0, x1; logistic regression)
  OUT_DIR/sk-bad/model.joblib                              bytes that are no pickle: MLServer refuses to load it
  OUT_DIR/mlf-v1/                                          an MLflow pyfunc model folder (MLmodel, python_model.pkl)
  OUT_DIR/rows.json                                        {"x0": [...], "x1": [...], "color": [...],
                                                            "sk-v1": [labels], "sk-v2": [labels], "mlf-v1": [values]}
Data is generated (seeded), so every run writes the same models and predictions.
"""
import json
import os
import sys

import joblib
import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

COLORS = ["red", "green", "blue"]


def frame(rng, n):
    return pd.DataFrame({
        "x0": rng.normal(size=n),
        "x1": rng.normal(size=n),
        "color": [COLORS[i] for i in rng.randint(0, len(COLORS), size=n)],
    })


def pipeline(c):
    encode = ColumnTransformer([("color", OneHotEncoder(handle_unknown="ignore"), ["color"])], remainder="passthrough")
    return Pipeline([("encode", encode), ("model", LogisticRegression(C=c))])


class Scaled(mlflow.pyfunc.PythonModel):
    """A custom pyfunc model: 2 * x0 + x1, plus 1 for blue."""

    def predict(self, context, model_input, params=None):
        df = pd.DataFrame(model_input)
        return (2.0 * df["x0"].astype(float) + df["x1"].astype(float) + (df["color"] == "blue") * 1.0).to_numpy()


def main(out):
    rng = np.random.RandomState(11)
    train = frame(rng, 400)
    y = ((train["x0"] - train["x1"] + (train["color"] == "blue") * 1.5) > 0).astype(int)
    rows = frame(rng, 8)
    result = {name: rows[name].tolist() for name in ["x0", "x1", "color"]}
    for version, c in [("sk-v1", 1.0), ("sk-v2", 0.01)]:
        os.makedirs(os.path.join(out, version), exist_ok=True)
        model = pipeline(c).fit(train, y)
        joblib.dump(model, os.path.join(out, version, "model.joblib"))
        result[version] = model.predict(rows).tolist()
    os.makedirs(os.path.join(out, "sk-bad"), exist_ok=True)
    with open(os.path.join(out, "sk-bad", "model.joblib"), "wb") as f:
        f.write(b"this is not a pickle\n")
    mlflow.pyfunc.save_model(path=os.path.join(out, "mlf-v1"), python_model=Scaled(), pip_requirements=[])
    result["mlf-v1"] = Scaled().predict(None, rows).tolist()
    with open(os.path.join(out, "rows.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
