import MregCore

extension KubernetesRender {
    /// The InferenceService of one model, and the runtime it names.
    ///
    /// With a canary, the spec describes the canary version and `canaryTrafficPercent` sends that
    /// share to it; KServe keeps the rest on the last revision that rolled out (the stable one,
    /// which mreg's promotion order has served before).
    static func inferenceService(_ input: RenderInput, model: String, objectName: String) throws(RenderError) -> (YAMLNode, String) {
        let manifest = input.manifest
        let deployment = manifest.models[model]!
        let target = deployment.canary?.version ?? deployment.version
        guard let facts = input.versions["\(model)@\(target)"] else {
            throw .invalid("model '\(model)' has no version '\(target)' on main")
        }
        let settings = deployment.kubernetes ?? ModelKubernetesSettings()
        let serving = try KServeServing.choose(format: facts.format, artifact: facts.artifact, override: settings.runtime, model: model)
        guard let base = input.versionURI(model, target) else {
            throw .unservable(model, "KServe reads models from an object store, and this registry has none for it (configure store: with an s3:// URL in mreg.yaml and run `mreg store push`)")
        }
        var uri = base
        if !serving.folder {
            guard let artifact = facts.artifact else { throw .unservable(model, "version '\(target)' names no artifact file in version.yaml") }
            uri = (base.hasSuffix("/") ? base : base + "/") + artifact
        }
        var modelSpec: [(String, YAMLNode)] = [
            ("modelFormat", .map([("name", .string(serving.modelFormat))])),
            ("protocolVersion", .string("v2")),
            ("runtime", .string(serving.runtime)),
            ("storageUri", .string(uri)),
        ]
        if !settings.resources.isEmpty { modelSpec.append(("resources", resourcesNode(settings.resources))) }
        var predictor = [(String, YAMLNode)]()
        if let c = deployment.canary { predictor.append(("canaryTrafficPercent", .int(c.weight))) }
        if let v = settings.maxReplicas { predictor.append(("maxReplicas", .int(v))) }
        if let v = settings.minReplicas { predictor.append(("minReplicas", .int(v))) }
        predictor.append(("model", .map(modelSpec)))
        if let v = settings.scaleMetric { predictor.append(("scaleMetric", .string(v))) }
        if let v = settings.scaleTarget { predictor.append(("scaleTarget", .int(v))) }
        if let sa = manifest.kubernetes?.serviceAccountName { predictor.append(("serviceAccountName", .string(sa))) }
        let node = YAMLNode.map([
            ("apiVersion", .string("serving.kserve.io/v1beta1")),
            ("kind", .string("InferenceService")),
            ("metadata", metadata(name: objectName, namespace: manifest.kubernetes?.namespace,
                                  labels: labels(input, model: model, objectName: objectName),
                                  annotations: annotations(input, model: model))),
            ("spec", .map([("predictor", .map(predictor))])),
        ])
        return (node, serving.runtime)
    }

    static func labels(_ input: RenderInput, model: String, objectName: String) -> [(String, String)] {
        let deployment = input.manifest.models[model]!
        var labels: [(String, String)] = [
            ("app.kubernetes.io/name", objectName),
            (labelModel, labelValue(model) ?? objectName),
            (labelVersion, deployment.version),
            (labelEnvironment, labelValue(input.manifest.environment) ?? "invalid"),
        ]
        if let c = deployment.canary { labels.append((labelCanary, c.version)) }
        return labels
    }

    static func annotations(_ input: RenderInput, model: String) -> [(String, String)] {
        let deployment = input.manifest.models[model]!
        var out: [(String, String)] = [(labelModel, model)]
        if let commit = input.deployedIn[model] { out.append((annotationCommit, commit)) }
        if let c = deployment.canary { out.append((annotationCanaryWeight, String(c.weight))) }
        return out
    }

    static func resourcesNode(_ resources: [String: [String: String]]) -> YAMLNode {
        .map(resources.keys.sorted().map { kind in
            (kind, .map(resources[kind]!.keys.sorted().map { ($0, .string(resources[kind]![$0]!)) }))
        })
    }

    /// The ClusterServingRuntime that runs `mreg serve` on the version folder KServe's storage
    /// initializer downloads to /mnt/models; mreg checks every file's checksum as it loads.
    static func mregServingRuntime(_ input: RenderInput) -> YAMLNode {
        let formats: [YAMLNode] = KServeServing.mregFormats.sorted().map { format in
            .map([("autoSelect", .bool(format == "mreg")), ("name", .string(format)), ("version", .string("1"))])
        }
        let container = YAMLNode.map([
            ("name", .string("kserve-container")),
            ("image", .string(input.image)),
            ("args", .list(["serve", "--model-dir", "/mnt/models", "--model-name", "{{.Name}}", "--host", "0.0.0.0", "--port", "8080"].map { .string($0) })),
            ("ports", .list([.map([("containerPort", .int(8080)), ("name", .string("http1")), ("protocol", .string("TCP"))])])),
            ("readinessProbe", .map([("httpGet", .map([("path", .string("/v2/health/ready")), ("port", .int(8080))]))])),
            ("resources", .map([
                ("limits", .map([("cpu", .string("1")), ("memory", .string("1Gi"))])),
                ("requests", .map([("cpu", .string("100m")), ("memory", .string("128Mi"))])),
            ])),
        ])
        return .map([
            ("apiVersion", .string("serving.kserve.io/v1alpha1")),
            ("kind", .string("ClusterServingRuntime")),
            ("metadata", metadata(name: KServeServing.mregRuntime, namespace: nil, labels: [], annotations: [])),
            ("spec", .map([
                ("containers", .list([container])),
                ("protocolVersions", .list([.string("v2")])),
                ("supportedModelFormats", .list(formats)),
            ])),
        ])
    }
}
