import MregCore

extension Registry {
    /// Where KServe finds a version: its folder in the registry's S3 store (KServe's storage
    /// initializer reads s3://, not a folder on one machine); nil without one.
    func kubernetesVersionURI(_ config: RegistryConfig) -> @Sendable (String, String) -> String? {
        guard let store = config.store, case .s3 = store.location else { return { _, _ in nil } }
        return { model, version in store.versionURI(model: model, version: version) }
    }
}
