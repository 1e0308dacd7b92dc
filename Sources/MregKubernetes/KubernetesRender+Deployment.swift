import MregCore

extension KubernetesRender {
    static let storeMount = "/var/lib/mreg"
    static let tokenMount = "/var/run/mreg"

    /// `--target k8s`: pods running `mreg serve` with `mreg reconcile` beside them on a shared
    /// volume, so each pod pulls main and serves what the manifest says, as a host would. The
    /// server's repository API token is made per pod by an init container and never leaves it.
    static func deployment(_ input: RenderInput, name: String, repository: String) -> YAMLNode {
        let environment = input.manifest.environment
        let selector: [(String, YAMLNode)] = [("app.kubernetes.io/name", .string(name)), (labelEnvironment, .string(labelValue(environment) ?? name))]
        let token = tokenMount + "/admin-token"
        let store = storeMount + "/store"
        let tokenInit = YAMLNode.map([
            ("name", .string("admin-token")),
            ("image", .string(input.image)),
            ("command", .list(["sh", "-c", "umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > \(token)"].map { .string($0) })),
            ("volumeMounts", .list([mount("token", tokenMount)])),
        ])
        let serve = YAMLNode.map([
            ("name", .string("serve")),
            ("image", .string(input.image)),
            ("args", .list(["serve", "--store", store, "--host", "0.0.0.0", "--port", "8080", "--admin-token-file", token].map { .string($0) })),
            ("ports", .list([.map([("containerPort", .int(8080)), ("name", .string("http"))])])),
            ("readinessProbe", .map([("httpGet", .map([("path", .string("/v2/health/ready")), ("port", .string("http"))]))])),
            ("livenessProbe", .map([("httpGet", .map([("path", .string("/v2/health/live")), ("port", .string("http"))]))])),
            ("volumeMounts", .list([mount("store", storeMount), mount("token", tokenMount)])),
        ])
        var reconcileArgs = ["reconcile", "--repo", repository, "--env", environment, "--host", "$(POD_NAME)",
                             "--server", "http://127.0.0.1:8080", "--store", store, "--admin-token-file", token,
                             "--listen", "0.0.0.0:9090", "--branch", input.mainBranch]
        if !input.registryPath.isEmpty { reconcileArgs += ["--path", input.registryPath] }
        let reconcile = YAMLNode.map([
            ("name", .string("reconcile")),
            ("image", .string(input.image)),
            ("args", .list(reconcileArgs.map { .string($0) })),
            ("env", .list([.map([
                ("name", .string("POD_NAME")),
                ("valueFrom", .map([("fieldRef", .map([("fieldPath", .string("metadata.name"))]))])),
            ])])),
            ("ports", .list([.map([("containerPort", .int(9090)), ("name", .string("status"))])])),
            ("livenessProbe", .map([("httpGet", .map([("path", .string("/healthz")), ("port", .string("status"))]))])),
            ("volumeMounts", .list([mount("store", storeMount), mount("token", tokenMount)])),
        ])
        var podSpec: [(String, YAMLNode)] = [
            ("containers", .list([serve, reconcile])),
            ("initContainers", .list([tokenInit])),
        ]
        if let sa = input.manifest.kubernetes?.serviceAccountName { podSpec.append(("serviceAccountName", .string(sa))) }
        podSpec.append(("volumes", .list([
            .map([("emptyDir", .map([])), ("name", .string("store"))]),
            .map([("emptyDir", .map([("medium", .string("Memory"))])), ("name", .string("token"))]),
        ])))
        let labels = [("app.kubernetes.io/name", name), (labelEnvironment, labelValue(environment) ?? name)]
        return .map([
            ("apiVersion", .string("apps/v1")),
            ("kind", .string("Deployment")),
            ("metadata", metadata(name: name, namespace: input.manifest.kubernetes?.namespace, labels: labels, annotations: [])),
            ("spec", .map([
                ("replicas", .int(input.manifest.kubernetes?.replicas ?? 1)),
                ("selector", .map([("matchLabels", .map(selector))])),
                ("template", .map([
                    ("metadata", .map([("labels", .map(selector))])),
                    ("spec", .map(podSpec)),
                ])),
            ])),
        ])
    }

    static func service(_ input: RenderInput, name: String) -> YAMLNode {
        let environment = input.manifest.environment
        let labels = [("app.kubernetes.io/name", name), (labelEnvironment, labelValue(environment) ?? name)]
        return .map([
            ("apiVersion", .string("v1")),
            ("kind", .string("Service")),
            ("metadata", metadata(name: name, namespace: input.manifest.kubernetes?.namespace, labels: labels, annotations: [])),
            ("spec", .map([
                ("ports", .list([
                    .map([("name", .string("http")), ("port", .int(80)), ("targetPort", .string("http"))]),
                    .map([("name", .string("status")), ("port", .int(9090)), ("targetPort", .string("status"))]),
                ])),
                ("selector", .map(labels.map { ($0.0, .string($0.1)) })),
            ])),
        ])
    }

    private static func mount(_ name: String, _ path: String) -> YAMLNode {
        .map([("mountPath", .string(path)), ("name", .string(name))])
    }
}
