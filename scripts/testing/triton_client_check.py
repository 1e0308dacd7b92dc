#!/usr/bin/env python3
"""Drives a running `mreg serve` with the stock tritonclient.http, its defaults unchanged (binary
tensor data on), and checks every answer against the expectations in a cases file.

Usage: triton_client_check.py http HOST:PORT CASES.json

CASES.json (written by Tests/MregServerTests/ServeTritonClientTests.swift):
  {"classifier": {"model", "version", "classes", "features": [{"name", "kind", "datatype", "values"}],
                  "labels", "probabilities"},
   "matrix": {"model", "rows": [[...]], "values", "values_fp32"}}
Prints one line per check and exits 1 at the first that fails.
"""
import json
import sys

import numpy as np
import tritonclient.http as client_module
from tritonclient.utils import InferenceServerException

checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAIL: {what}", flush=True)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}", flush=True)


def close(a, b, rel):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rel * np.maximum(1.0, np.abs(b))))


def classifier_inputs(case, binary=True):
    inputs = []
    for f in case["features"]:
        if f["datatype"] == "BYTES":
            array = np.array([v.encode() for v in f["values"]], dtype=np.object_)
        elif f["datatype"] == "INT64":
            array = np.array(f["values"], dtype=np.int64)
        else:
            array = np.array(f["values"], dtype=np.float64)
        t = client_module.InferInput(f["name"], list(array.shape), f["datatype"])
        t.set_data_from_numpy(array, binary_data=binary)
        inputs.append(t)
    return inputs


def check_classifier_result(result, case, what):
    labels = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("label").tolist()]
    check(labels == case["labels"], f"{what}: labels")
    check(close(result.as_numpy("probabilities"), case["probabilities"], 1e-12), f"{what}: probabilities")


def server_and_model(client, case):
    model, version = case["model"], case["version"]
    number = version.lstrip("v")
    check(client.is_server_live(), "is_server_live")
    check(client.is_server_ready(), "is_server_ready")
    check(client.get_server_metadata()["name"] == "mreg", "get_server_metadata")
    check(client.is_model_ready(model), "is_model_ready")
    check(client.is_model_ready(model, number), f"is_model_ready with version '{number}'")
    check(client.is_model_ready(model, version), f"is_model_ready with version '{version}'")
    check(not client.is_model_ready("no-such-model"), "is_model_ready of an unknown model is false")
    names = [f["name"] for f in case["features"]]
    kinds = ["TYPE_STRING" if f["kind"] == "categorical" else "TYPE_FP64" for f in case["features"]]
    meta = client.get_model_metadata(model)
    check([i["name"] for i in meta["inputs"]] == names, "get_model_metadata inputs")
    check(client.get_model_metadata(model, number)["versions"] == [version], "get_model_metadata with a version number")
    config = client.get_model_config(model)
    check(config["name"] == model and config["max_batch_size"] == 0, "get_model_config name and max_batch_size")
    check([i["name"] for i in config["input"]] == names, "get_model_config inputs")
    check([i["data_type"] for i in config["input"]] == kinds, "get_model_config data_type")
    check(config["output"][1]["dims"] == [-1, len(case["classes"])], "get_model_config output dims")
    check(client.get_model_config(model, number)["version_policy"]["specific"]["versions"] == [int(number)],
          "get_model_config with a version number")


def requested(name, binary):
    return client_module.InferRequestedOutput(name, binary_data=binary)


def response_field(result, key):
    return result.get_response()[key]


def async_results(client, model, case, count):
    """count requests in flight at once; their results in request order."""
    pending = [client.async_infer(model, classifier_inputs(case), request_id=str(i)) for i in range(count)]
    return [p.get_result() for p in pending]


def inference(client, case, matrix):
    model = case["model"]
    check_classifier_result(client.infer(model, classifier_inputs(case)), case, "infer, defaults")
    result = client.infer(model, classifier_inputs(case), outputs=[requested("probabilities", True)], request_id="req-7")
    check(response_field(result, "id") == "req-7", "infer echoes the request id")
    check(result.as_numpy("label") is None, "infer with outputs returns only those")
    check(close(result.as_numpy("probabilities"), case["probabilities"], 1e-12), "infer, one requested output")
    outputs = [requested("label", False), requested("probabilities", False)]
    check_classifier_result(client.infer(model, classifier_inputs(case, binary=False), outputs=outputs), case,
                            "infer, JSON data")
    versioned = client.infer(model, classifier_inputs(case), model_version=case["version"].lstrip("v"))
    check(response_field(versioned, "model_version") == case["version"], "infer with a version number")

    rows = np.array(matrix["rows"], dtype=np.float64)
    for dtype, name, expected, rel in [(np.float64, "FP64", matrix["values"], 1e-12),
                                       (np.float32, "FP32", matrix["values_fp32"], 1e-9)]:
        t = client_module.InferInput("input__0", list(rows.shape), name)
        t.set_data_from_numpy(rows.astype(dtype))
        values = client.infer(matrix["model"], [t]).as_numpy("value")
        check(close(values, expected, rel), f"infer [N, F] {name} matrix")

    for i, result in enumerate(async_results(client, model, case, 8)):
        check(response_field(result, "id") == str(i), f"async_infer {i}: id")
        check_classifier_result(result, case, f"async_infer {i}")

    try:
        client.infer("no-such-model", classifier_inputs(case))
        check(False, "infer of an unknown model fails")
    except InferenceServerException as e:
        check("is not served here" in str(e.message()), "infer of an unknown model names the reason")
    bad = client_module.InferInput("island", [3], "BYTES")
    bad.set_data_from_numpy(np.array([b"Dream", b"Biscoe", b"Dream"], dtype=np.object_))
    bad.set_shape([4])
    try:
        client.infer(model, [bad])
        check(False, "infer with a shape that disagrees with the data fails")
    except InferenceServerException as e:
        check("shape [4]" in str(e.message()), f"infer with a shape that disagrees names the tensor: {e.message()}")


def statistics(client, case, calls):
    model = case["model"]
    def stats(name=""):
        return client.get_inference_statistics(name)["model_stats"]
    one = stats(model)
    check(len(one) == 1 and one[0]["name"] == model, "get_inference_statistics names the model")
    s = one[0]
    check(s["version"] == case["version"].lstrip("v"), "get_inference_statistics version is the number")
    inference = s["inference_stats"]
    check(int(inference["success"]["count"]) == calls, f"success count is {calls}")
    check(int(inference["fail"]["count"]) == 1, "fail count is 1")
    check(int(s["inference_count"]) == calls * len(case["labels"]), "inference_count counts rows")
    check(int(s["execution_count"]) == calls and int(s["last_inference"]) > 0, "execution_count and last_inference")
    check(all(int(inference[k]["ns"]) > 0 for k in ["success", "compute_input", "compute_infer", "compute_output"]),
          "phase times are measured")
    every = stats()
    check(sorted(x["name"] for x in every) == sorted([model, case["matrix_model"]]), "statistics of every model")


def main():
    protocol, url, cases_file = sys.argv[1], sys.argv[2], sys.argv[3]
    if protocol != "http":
        sys.exit(f"unknown protocol '{protocol}' (http)")
    with open(cases_file) as f:
        cases = json.load(f)
    case, matrix = cases["classifier"], cases["matrix"]
    case["matrix_model"] = matrix["model"]
    client = client_module.InferenceServerClient(url=url, concurrency=4)
    server_and_model(client, case)
    inference(client, case, matrix)
    # Successful calls on the classifier: 4 infer + 8 async_infer; the one with a bad shape failed.
    statistics(client, case, 12)
    client.close()
    print(f"all {checks} checks passed")


if __name__ == "__main__":
    main()
