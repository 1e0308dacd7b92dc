import MregCore
import Testing

@Suite struct StoreConfigTests {
    private func parse(_ store: String) throws(CoreError) -> StoreConfig? {
        try RegistryConfig.parse("schemaVersion: 1\nname: x\n" + store).store
    }

    @Test func absentMeansNoStore() throws {
        #expect(try parse("") == nil)
        #expect(RegistryConfig.defaults(name: "x").store == nil)
    }

    @Test func s3WithEndpointDefaultsToPathAddressing() throws {
        let store = try #require(try parse("store:\n  url: s3://models-bucket/team/a/\n  endpoint: http://127.0.0.1:9000/\n  region: eu-west-1\n  threshold: 2MiB\n"))
        #expect(store.location == .s3(bucket: "models-bucket", prefix: "team/a"))
        #expect(store.endpoint == "http://127.0.0.1:9000")
        #expect(store.region == "eu-west-1")
        #expect(store.threshold == 2 << 20)
        #expect(store.effectiveAddressing == .path)
        #expect(store.versionURI(model: "penguins", version: "v3") == "s3://models-bucket/team/a/models/penguins/v3/")
        #expect(StoreConfig.objectKey(sha256: String(repeating: "ab", count: 32)) == "sha256/ab/" + String(repeating: "ab", count: 32))
    }

    @Test func awsDefaultsAndFolderStores() throws {
        let aws = try #require(try parse("store:\n  url: s3://bucket1\n"))
        #expect(aws.effectiveAddressing == .virtual)
        #expect(aws.threshold == StoreConfig.defaultThreshold)
        #expect(aws.versionURI(model: "m", version: "v1") == "s3://bucket1/models/m/v1/")
        let folder = try #require(try parse("store:\n  url: file:///srv/mreg-artifacts/\n  threshold: 4096\n"))
        #expect(folder.location == .folder(path: "/srv/mreg-artifacts"))
        #expect(folder.threshold == 4096)
        #expect(folder.versionURI(model: "m", version: "v12") == "file:///srv/mreg-artifacts/models/m/v12/")
    }

    @Test func roundTrips() throws {
        var config = RegistryConfig.defaults(name: "demo")
        config.store = StoreConfig(location: .s3(bucket: "b-1", prefix: "p/q"), endpoint: "http://127.0.0.1:9", region: "us-east-1",
                                   addressing: .virtual, threshold: 12345, partSize: 6 << 20, timeout: 5)
        #expect(try RegistryConfig.parse(config.render()) == config)
        config.store = StoreConfig(location: .folder(path: "/tmp/x y"))
        #expect(try RegistryConfig.parse(config.render()) == config)
    }

    @Test func sizes() {
        #expect(StoreConfig.parseSize("1MiB") == 1 << 20)
        #expect(StoreConfig.parseSize("1.5 KiB") == 1536)
        #expect(StoreConfig.parseSize("10MB") == 10_000_000)
        #expect(StoreConfig.parseSize("77") == 77)
        #expect(StoreConfig.parseSize("0.3B") == nil)
        #expect(StoreConfig.parseSize("-1MiB") == nil)
        #expect(StoreConfig.parseSize("lots") == nil)
        #expect(StoreConfig.parseSize("5000GiB") == nil)
    }

    @Test func badStoresNameTheField() {
        let cases: [(String, String)] = [
            ("store:\n  threshold: 1\n", "mreg.yaml: field 'store.url' is missing"),
            ("store:\n  url: http://x/y\n", "mreg.yaml: field 'store.url' 'http://x/y' is neither"),
            ("store:\n  url: s3://AB\n", "mreg.yaml: field 'store.url' 'AB' is not a bucket name"),
            ("store:\n  url: s3://bucket/a/../b\n", "mreg.yaml: field 'store.url' prefix 'a/../b' may hold only"),
            ("store:\n  url: file://relative/dir\n", "mreg.yaml: field 'store.url' 'file://relative/dir' must name an absolute folder"),
            ("store:\n  url: file:///a/../etc\n", "mreg.yaml: field 'store.url' 'file:///a/../etc' must name an absolute folder"),
            ("store:\n  url: s3://bucket\n  endpoint: ftp://x\n", "mreg.yaml: field 'store.endpoint' 'ftp://x' is not an http:// or https:// URL"),
            ("store:\n  url: s3://bucket\n  addressing: dns\n", "mreg.yaml: field 'store.addressing' must be path or virtual"),
            ("store:\n  url: s3://bucket\n  threshold: big\n", "mreg.yaml: field 'store.threshold' must be a size"),
            ("store:\n  url: s3://bucket\n  threshold: 0\n", "mreg.yaml: field 'store.threshold' must be at least 1 byte"),
            ("store:\n  url: s3://bucket\n  partSize: 1MiB\n", "mreg.yaml: field 'store.partSize' must be between 5MiB and 5GiB"),
            ("store:\n  url: s3://bucket\n  region: 'us east'\n", "mreg.yaml: field 'store.region' 'us east' is not a region name"),
            ("store:\n  url: file:///srv\n  region: us-east-1\n", "mreg.yaml: field 'store.url' is a folder"),
            ("store:\n  url: s3://bucket\n  timeout: 0\n", "mreg.yaml: field 'store.timeout' must be between 1 and 3600 seconds"),
            ("store:\n  url: s3://bucket\n  colour: red\n", "mreg.yaml: field 'store.colour' is not a known field"),
            ("store: s3://bucket\n", "mreg.yaml: field 'store' must be a mapping"),
        ]
        for (text, expected) in cases {
            do {
                _ = try parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.hasPrefix(expected), "\(error.description)")
            }
        }
    }
}
