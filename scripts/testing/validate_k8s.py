"""Validates the objects `mreg render` wrote, for Tests/EndToEndTests/RenderTests.swift.

usage: validate_k8s.py RENDER_DIR CRD_DIR [S3_ENDPOINT]

KServe kinds are checked against the openAPIV3Schema of their CustomResourceDefinition (jsonschema),
strictly: a field the schema does not declare is an error, as `kubectl apply --validate=strict` makes
it. Kubernetes' own kinds are checked with kubernetes-validate (strict). With S3_ENDPOINT, every
storageUri must exist there (an object, or at least one object below a folder URI). Prints one JSON
document: {"objects": [...kinds/names...], "errors": [...], "storageUris": [...]}; exits 0 either way.
"""
import json
import os
import sys

import jsonschema
import yaml


def crd_schemas(crd_dir):
    schemas = {}
    for name in os.listdir(crd_dir):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(crd_dir, name)) as f:
            crd = yaml.safe_load(f)
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def unknown_fields(value, schema, path, out):
    """Fields of `value` that `schema` does not declare (where it declares its fields)."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                unknown_fields(item, props[key], f"{path}.{key}", out)
            elif isinstance(extra, dict):
                unknown_fields(item, extra, f"{path}.{key}", out)
            elif props is not None:
                out.append(f"{path}.{key}: unknown field")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            unknown_fields(item, schema["items"], f"{path}[{i}]", out)


def storage_uris(obj):
    spec = obj.get("spec", {}).get("predictor", {})
    model = spec.get("model") or {}
    return [model["storageUri"]] if "storageUri" in model else []


def uri_exists(client, uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    if uri.endswith("/"):
        listed = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return listed.get("KeyCount", 0) > 0
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except Exception:
        return False


def main():
    render_dir, crd_dir = sys.argv[1], sys.argv[2]
    endpoint = sys.argv[3] if len(sys.argv) > 3 else None
    schemas = crd_schemas(crd_dir)
    import kubernetes_validate

    result = {"objects": [], "errors": [], "storageUris": []}
    for name in sorted(os.listdir(render_dir)):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        with open(os.path.join(render_dir, name)) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for obj in docs:
            label = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            result["objects"].append(label)
            key = (obj.get("apiVersion"), obj.get("kind"))
            if key in schemas:
                schema = schemas[key]
                for error in jsonschema.Draft7Validator(schema).iter_errors(obj):
                    result["errors"].append(f"{name}: {label}: {'.'.join(map(str, error.path))}: {error.message}")
                unknown = []
                unknown_fields(obj.get("spec"), schema["properties"]["spec"], "spec", unknown)
                result["errors"] += [f"{name}: {label}: {u}" for u in unknown]
                result["storageUris"] += storage_uris(obj)
            else:
                try:
                    kubernetes_validate.validate(obj, "1.33", strict=True)
                except Exception as e:  # ValidationError, InvalidSchemaError, VersionNotSupportedError
                    result["errors"].append(f"{name}: {label}: {str(e).splitlines()[0]}")
    if endpoint:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        for uri in result["storageUris"]:
            if not uri.startswith("s3://") or not uri_exists(client, uri):
                result["errors"].append(f"storageUri {uri} does not exist in {endpoint}")
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
