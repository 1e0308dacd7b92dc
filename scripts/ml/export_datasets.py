"""Writes scikit-learn's bundled breast_cancer, wine and diabetes data sets to examples/ as CSV."""
import os
import sys

from sklearn import datasets

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def write(name, bunch, target_name, labels=None):
    frame = bunch.frame.copy()
    target = frame.pop("target")
    if labels is not None:
        target = target.map(lambda k: labels[int(k)])
    frame.insert(0, target_name, target)
    path = os.path.join(out, name)
    frame.to_csv(path, index=False, lineterminator="\n")
    print(f"wrote {path} ({len(frame)} rows, {frame.shape[1]} columns)")


bc = datasets.load_breast_cancer(as_frame=True)
write("breast_cancer.csv", bc, "diagnosis", list(bc.target_names))
wine = datasets.load_wine(as_frame=True)
write("wine.csv", wine, "cultivar", list(wine.target_names))
write("diabetes.csv", datasets.load_diabetes(as_frame=True, scaled=False), "progression")
