import Foundation

/// The `store:` section of `mreg.yaml`: where files at or above a size threshold live instead of
/// Git (a folder or an S3-compatible bucket), and how to reach it. Pure values, no I/O.
public struct StoreConfig: Sendable, Equatable {
    /// Where objects live.
    public enum Location: Sendable, Equatable {
        /// An absolute folder (`file:///srv/mreg-artifacts`), local or mounted.
        case folder(path: String)
        /// A bucket and a key prefix without leading or trailing slashes (empty: the bucket's root).
        case s3(bucket: String, prefix: String)
    }

    /// How S3 requests name the bucket: in the path (`http://host/bucket/key`) or the host name
    /// (`https://bucket.s3.region.amazonaws.com/key`).
    public enum Addressing: String, Sendable, Equatable {
        case path
        case virtual
    }

    /// Files at or above 1 MiB go to the store unless `threshold` says otherwise.
    public static let defaultThreshold = 1 << 20
    /// Multipart uploads send parts of 16 MiB unless `partSize` says otherwise.
    public static let defaultPartSize = 16 << 20
    /// S3 refuses parts below 5 MiB (except the last one).
    public static let minimumPartSize = 5 << 20
    /// Requests fail after 30 s without a byte moving unless `timeout` says otherwise.
    public static let defaultTimeout = 30

    public var location: Location
    /// An S3-compatible service's base URL (`http://127.0.0.1:9000`); nil: AWS.
    public var endpoint: String?
    /// The S3 region; nil: `AWS_REGION`, `AWS_DEFAULT_REGION`, `~/.aws/config`, then `us-east-1`.
    public var region: String?
    /// As written; nil: virtual for AWS, path with an endpoint (see `effectiveAddressing`).
    public var addressing: Addressing?
    /// Files of at least this many bytes go to the store.
    public var threshold: Int
    /// The part size of multipart uploads; files above it are uploaded in parts.
    public var partSize: Int
    /// Seconds a request may go without a byte moving (and the limit of making a connection).
    public var timeout: Int

    public init(location: Location, endpoint: String? = nil, region: String? = nil, addressing: Addressing? = nil,
                threshold: Int = StoreConfig.defaultThreshold, partSize: Int = StoreConfig.defaultPartSize,
                timeout: Int = StoreConfig.defaultTimeout) {
        self.location = location
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.threshold = threshold
        self.partSize = partSize
        self.timeout = timeout
    }

    /// The addressing S3 requests use.
    public var effectiveAddressing: Addressing { addressing ?? (endpoint == nil ? .virtual : .path) }

    /// The store's URL, normalized (`s3://bucket/prefix`, `file:///srv/mreg-artifacts`).
    public var url: String {
        switch location {
        case .folder(let path): return "file://" + path
        case .s3(let bucket, let prefix): return prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)"
        }
    }

    /// The key of the content object of a sha256 (64 lowercase hex), relative to the store's root:
    /// `sha256/ab/abcdef…`.
    public static func objectKey(sha256: String) -> String {
        "sha256/\(sha256.prefix(2))/\(sha256)"
    }

    /// The key of the folder holding every file of a version, relative to the store's root.
    public static func versionKey(model: String, version: String) -> String {
        "models/\(model)/\(version)/"
    }

    /// The URI of the folder that holds every file of `model`'s `version` in the store, for engines
    /// that load a model from a URI (KServe `storageUri`, MLServer):
    /// `s3://bucket/prefix/models/MODEL/vN/` or `file:///srv/mreg-artifacts/models/MODEL/vN/`.
    public func versionURI(model: String, version: String) -> String {
        url + "/" + StoreConfig.versionKey(model: model, version: version)
    }
}

extension StoreConfig {
    /// Reads the `store:` section.
    static func read(_ f: inout Fields) throws(CoreError) -> StoreConfig {
        let url = try f.string("url")
        let location = try parseLocation(url, f)
        var config = StoreConfig(location: location)
        if let endpoint = try f.optionalString("endpoint") {
            guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://"), endpoint.count <= 500,
                  !endpoint.contains(where: { $0 == " " || $0 == "\n" || $0 == "?" || $0 == "#" })
            else { throw f.error("endpoint", "'\(endpoint.prefix(80))' is not an http:// or https:// URL") }
            config.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        }
        if let region = try f.optionalString("region") {
            guard !region.isEmpty, region.count <= 64, region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw f.error("region", "'\(region.prefix(80))' is not a region name (letters, digits, -)")
            }
            config.region = region
        }
        if let addressing = try f.optionalString("addressing") {
            guard let a = Addressing(rawValue: addressing) else { throw f.error("addressing", "must be path or virtual, found '\(addressing.prefix(40))'") }
            config.addressing = a
        }
        if f.has("threshold") { config.threshold = try size(&f, "threshold") }
        guard config.threshold >= 1 else { throw f.error("threshold", "must be at least 1 byte") }
        if f.has("partSize") { config.partSize = try size(&f, "partSize") }
        guard config.partSize >= minimumPartSize, config.partSize <= 5 << 30 else {
            throw f.error("partSize", "must be between 5MiB and 5GiB")
        }
        if let timeout = try f.optionalInt("timeout") {
            guard (1...3600).contains(timeout) else { throw f.error("timeout", "must be between 1 and 3600 seconds") }
            config.timeout = timeout
        }
        if case .folder = location, config.endpoint != nil || config.region != nil || config.addressing != nil {
            throw f.error("url", "is a folder; endpoint, region and addressing are for s3:// stores")
        }
        try f.finish()
        return config
    }

    private static func parseLocation(_ url: String, _ f: Fields) throws(CoreError) -> Location {
        guard url.count <= 1000, !url.contains(where: { $0.isNewline || $0 == "\0" }) else { throw f.error("url", "must be one line of at most 1000 characters") }
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard path.hasPrefix("/"), !parts.contains(where: { $0 == ".." || $0 == "." }) else {
                throw f.error("url", "'\(url.prefix(80))' must name an absolute folder (file:///srv/mreg-artifacts), without . or ..")
            }
            let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
            return .folder(path: trimmed)
        }
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst("s3://".count)
            let bucket = String(rest.prefix { $0 != "/" })
            guard isBucketName(bucket) else {
                throw f.error("url", "'\(bucket.prefix(80))' is not a bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)")
            }
            let prefix = rest.dropFirst(bucket.count).split(separator: "/").joined(separator: "/")
            let components = prefix.split(separator: "/")
            guard !components.contains(where: { $0 == "." || $0 == ".." }),
                  prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./".contains($0)) })
            else { throw f.error("url", "prefix '\(prefix.prefix(80))' may hold only a-z A-Z 0-9 - _ . / and no . or .. component") }
            return .s3(bucket: bucket, prefix: prefix)
        }
        throw f.error("url", "'\(url.prefix(80))' is neither s3://BUCKET[/PREFIX] nor file:///FOLDER")
    }

    private static func isBucketName(_ s: String) -> Bool {
        guard (3...63).contains(s.count), let first = s.first, let last = s.last else { return false }
        let allowed = s.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "." || $0 == "-" }
        let edge: (Character) -> Bool = { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        return allowed && edge(first) && edge(last) && !s.contains("..")
    }

    /// A size: a whole number of bytes, or a number with B, KiB, MiB, GiB, KB, MB or GB.
    private static func size(_ f: inout Fields, _ key: String) throws(CoreError) -> Int {
        guard let v = f.value(key) else { throw f.error(key, "is missing") }
        if let i = v.intValue { return i }
        guard case .string(let text) = v, let bytes = parseSize(text) else {
            throw f.error(key, "must be a size such as 1048576, 512KiB, 1MiB or 2GiB")
        }
        return bytes
    }

    /// Bytes of a size text (`1MiB`, `1.5 GiB`, `4096`); nil when it is not one or is above 1 TiB.
    public static func parseSize(_ text: String) -> Int? {
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("KB", 1000), ("MB", 1e6), ("GB", 1e9), ("B", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var number = trimmed
        var factor = 1.0
        for (unit, f) in units where trimmed.hasSuffix(unit) {
            number = String(trimmed.dropLast(unit.count)).trimmingCharacters(in: .whitespaces)
            factor = f
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number) else { return nil }
        let bytes = value * factor
        guard bytes.isFinite, bytes >= 0, bytes <= Double(1 << 40), bytes == bytes.rounded() else { return nil }
        return Int(bytes)
    }

    var yaml: YAMLNode {
        var pairs: [(String, YAMLNode)] = [("url", .string(url))]
        if let endpoint { pairs.append(("endpoint", .string(endpoint))) }
        if let region { pairs.append(("region", .string(region))) }
        if let addressing { pairs.append(("addressing", .string(addressing.rawValue))) }
        pairs.append(("threshold", .int(threshold)))
        if partSize != StoreConfig.defaultPartSize { pairs.append(("partSize", .int(partSize))) }
        if timeout != StoreConfig.defaultTimeout { pairs.append(("timeout", .int(timeout))) }
        return .map(pairs)
    }
}
