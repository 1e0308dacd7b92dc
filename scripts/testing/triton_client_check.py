#!/usr/bin/env python3
"""Drives a running `mreg serve` with the stock tritonclient (http or grpc), its defaults unchanged
(binary tensor data on over HTTP, raw contents over gRPC), and checks every answer against the
expectations in a cases file.

Usage: triton_client_check.py http|grpc HOST:PORT CASES.json [ADMIN_TOKEN]
With grpc, hostile messages (sent through the service stubs that ship with tritonclient) must each
get the right status and message, and the repository calls must need the admin token.

CASES.json (written by Tests/MregServerTests/ServeTritonClientTests.swift):
  {"classifier": {"model", "version", "classes", "features": [{"name", "kind", "datatype", "values"}],
                  "labels", "probabilities"},
   "matrix": {"model", "rows": [[...]], "values", "values_fp32"}}
Prints one line per check and exits 1 at the first that fails.
"""
import json
import sys

import threading

import numpy as np
from tritonclient.utils import InferenceServerException

client_module = None  # tritonclient.http or tritonclient.grpc
grpc = False

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
        if grpc:
            t.set_data_from_numpy(array)
        else:
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
    if grpc:
        from tritonclient.grpc import model_config_pb2 as mc
        meta = client.get_model_metadata(model)
        check([i.name for i in meta.inputs] == names, "get_model_metadata inputs")
        check(list(client.get_model_metadata(model, number).versions) == [version], "get_model_metadata with a version number")
        config = client.get_model_config(model).config
        check(config.name == model and config.max_batch_size == 0, "get_model_config name and max_batch_size")
        check([i.name for i in config.input] == names, "get_model_config inputs")
        check([mc.DataType.Name(i.data_type) for i in config.input] == kinds, "get_model_config data_type")
        check(list(config.output[1].dims) == [-1, len(case["classes"])], "get_model_config output dims")
        check(list(client.get_model_config(model, number).config.version_policy.specific.versions) == [int(number)],
              "get_model_config with a version number")
        return
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
    if grpc:
        return client_module.InferRequestedOutput(name)
    return client_module.InferRequestedOutput(name, binary_data=binary)


def response_field(result, key):
    return getattr(result.get_response(), key) if grpc else result.get_response()[key]


def async_results(client, model, case, count):
    """count requests in flight at once; their results in request order."""
    if not grpc:
        pending = [client.async_infer(model, classifier_inputs(case), request_id=str(i)) for i in range(count)]
        return [p.get_result() for p in pending]
    results, done = [None] * count, threading.Semaphore(0)

    def callback(i):
        def f(result, error):
            results[i] = error if error is not None else result
            done.release()
        return f
    for i in range(count):
        client.async_infer(model, classifier_inputs(case), callback(i), request_id=str(i))
    for _ in range(count):
        done.acquire(timeout=30)
    for r in results:
        check(r is not None and not isinstance(r, Exception), f"async_infer answered: {r}")
    return results


def inference(client, case, matrix):
    model = case["model"]
    check_classifier_result(client.infer(model, classifier_inputs(case)), case, "infer, defaults")
    result = client.infer(model, classifier_inputs(case), outputs=[requested("probabilities", True)], request_id="req-7")
    check(response_field(result, "id") == "req-7", "infer echoes the request id")
    check(result.as_numpy("label") is None, "infer with outputs returns only those")
    check(close(result.as_numpy("probabilities"), case["probabilities"], 1e-12), "infer, one requested output")
    outputs = [requested("label", False), requested("probabilities", False)]
    check_classifier_result(client.infer(model, classifier_inputs(case, binary=False), outputs=outputs), case,
                            "infer, JSON data" if not grpc else "infer, both outputs named")
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
    if grpc:
        from google.protobuf.json_format import MessageToDict
        def stats(name=""):
            return MessageToDict(client.get_inference_statistics(name), preserving_proto_field_name=True,
                                 always_print_fields_with_no_presence=True)["model_stats"]
    else:
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


def hostile_grpc(url, case, token):
    """Each malformed request gets its gRPC status and message; the server keeps serving."""
    import grpc as grpclib
    from tritonclient.grpc import service_pb2 as pb, service_pb2_grpc as rpc
    stub = rpc.GRPCInferenceServiceStub(grpclib.insecure_channel(url, options=[("grpc.max_send_message_length", 64 << 20)]))
    model = case["model"]

    def tensor(name, datatype, shape, **contents):
        t = pb.ModelInferRequest.InferInputTensor(name=name, datatype=datatype, shape=shape)
        for k, v in contents.items():
            getattr(t.contents, k).extend(v)
        return t

    def expect(request, code, message, call=None, metadata=None):
        try:
            (call or stub.ModelInfer)(request, metadata=metadata, timeout=10)
            check(False, f"{message}: refused")
        except grpclib.RpcError as e:
            check(e.code() == code and message in e.details(), f"{code.name} '{message}' (got {e.code().name} '{e.details()}')")

    matrix = "input__0"
    invalid = grpclib.StatusCode.INVALID_ARGUMENT
    cases = [
        (pb.ModelInferRequest(model_name=model, inputs=[tensor(matrix, "FP64", [1, 3])], raw_input_contents=[b"", b""]),
         "'raw_input_contents' has 2 entries for 1 inputs"),
        (pb.ModelInferRequest(model_name=model, inputs=[tensor(matrix, "FP64", [1, 3])], raw_input_contents=[b"\0" * 20]),
         "has binary_data_size 20, not a multiple of 8 (FP64)"),
        (pb.ModelInferRequest(model_name=model, inputs=[tensor(matrix, "FP64", [-1, 3], fp64_contents=[1, 2, 3])]),
         "has a negative dimension -1"),
        (pb.ModelInferRequest(model_name=model, inputs=[tensor(matrix, "FP64", [1 << 62, 3], fp64_contents=[1, 2, 3])]),
         "has a dimension too large"),
        (pb.ModelInferRequest(model_name=model, inputs=[tensor(matrix, "FP64", [1, 3], fp32_contents=[1, 2, 3])]),
         "is FP64 but its values are in another 'contents' field"),
        (pb.ModelInferRequest(model_name=model, inputs=[tensor("island", "BYTES", [1], bytes_contents=[b"\xc3\x28"])]),
         "element 0 is not valid UTF-8"),
        (pb.ModelInferRequest(model_name=model, inputs=[tensor("island", "BYTES", [1])], raw_input_contents=[b"\xff\xff\xff\x7fA"]),
         "element 0 has length 2147483647 but only 1 bytes remain"),
        (pb.ModelInferRequest(model_name=model, inputs=[tensor(matrix, "FP64", [2, 3], fp64_contents=[1, 2, 3])]),
         "has shape [2, 3] (6 elements) but 3 values in 'data'"),
        (pb.ModelInferRequest(model_name=model), "request has no 'inputs'"),
    ]
    for request, message in cases:
        expect(request, invalid, message)
    expect(pb.ModelInferRequest(model_name="no-such-model"), grpclib.StatusCode.NOT_FOUND, "model 'no-such-model' is not served here")
    expect(pb.ModelInferRequest(model_name=model, model_version="9"), grpclib.StatusCode.NOT_FOUND, "has no loaded version '9'")
    big = pb.ModelInferRequest(model_name=model, inputs=[tensor(matrix, "FP64", [1, 3])], raw_input_contents=[b"\0" * (9 << 20)])
    expect(big, grpclib.StatusCode.RESOURCE_EXHAUSTED, "")
    index = pb.RepositoryIndexRequest()
    expect(index, grpclib.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token", call=stub.RepositoryIndex)
    expect(index, grpclib.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token", call=stub.RepositoryIndex,
           metadata=[("authorization", "Bearer " + token + "x")])
    auth = [("authorization", "Bearer " + token)]
    rows = stub.RepositoryIndex(index, metadata=auth, timeout=10).models
    check(sorted((m.name, m.version, m.state) for m in rows) == sorted([(model, case["version"], "READY"), (case["matrix_model"], "v1", "READY")]),
          "RepositoryIndex with the token lists the store")
    load = pb.RepositoryModelLoadRequest(model_name=model)
    load.parameters["version"].string_param = "v9"
    expect(load, grpclib.StatusCode.NOT_FOUND, "has no version 'v9' in the store", call=stub.RepositoryModelLoad, metadata=auth)
    load.parameters["version"].string_param = case["version"]
    stub.RepositoryModelLoad(load, metadata=auth, timeout=10)
    check(stub.ModelReady(pb.ModelReadyRequest(name=model), timeout=10).ready, "RepositoryModelLoad keeps the model ready")
    stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name=case["matrix_model"]), metadata=auth, timeout=10)
    check(not stub.ModelReady(pb.ModelReadyRequest(name=case["matrix_model"]), timeout=10).ready, "RepositoryModelUnload unloads")
    check(stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live, "still live after hostile messages")


def main():
    global client_module, grpc
    protocol, url, cases_file = sys.argv[1], sys.argv[2], sys.argv[3]
    token = sys.argv[4] if len(sys.argv) > 4 else ""
    grpc = protocol == "grpc"
    if grpc:
        import tritonclient.grpc as client_module
    else:
        import tritonclient.http as client_module
    with open(cases_file) as f:
        cases = json.load(f)
    case, matrix = cases["classifier"], cases["matrix"]
    case["matrix_model"] = matrix["model"]
    client = client_module.InferenceServerClient(url=url) if grpc else client_module.InferenceServerClient(url=url, concurrency=4)
    server_and_model(client, case)
    inference(client, case, matrix)
    # Successful calls on the classifier: 4 infer + 8 async_infer; the one with a bad shape failed.
    statistics(client, case, 12)
    if grpc:
        hostile_grpc(url, case, token)
    client.close()
    print(f"all {checks} {protocol} checks passed")


if __name__ == "__main__":
    main()
