import Foundation

/// AWS credentials and where they came from. `description` never shows the secret.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?
    /// Where they were found, for messages: `environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`
    /// or `profile 'default' in /home/me/.aws/credentials`.
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, source: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
    }

    public var description: String { "credentials from \(source)" }

    /// Credentials in the standard order: the environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then the profile `AWS_PROFILE` (or `default`)
    /// of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
    /// None there: an error that says where it looked.
    public static func resolve(_ env: [String: String]) throws(ArtifactStoreError) -> S3Credentials {
        if let id = env["AWS_ACCESS_KEY_ID"], !id.isEmpty {
            guard let secret = env["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw .unusable(store: "s3", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            let token = env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token,
                                 source: "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        }
        let profile = env["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let file = sharedFile(env, variable: "AWS_SHARED_CREDENTIALS_FILE", name: "credentials")
        let where_ = "profile '\(profile)' in \(file)"
        if let text = try? String(contentsOfFile: file, encoding: .utf8), let section = INI.section(profile, of: text) {
            guard let id = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] else {
                throw .unusable(store: "s3", message: "\(where_) lacks aws_access_key_id or aws_secret_access_key")
            }
            return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: section["aws_session_token"], source: where_)
        }
        throw .unusable(store: "s3", message: "no credentials: AWS_ACCESS_KEY_ID is not set and there is no \(where_)")
    }

    /// The region: the configuration's, else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's
    /// `region` in the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`), else `us-east-1`.
    public static func region(configured: String?, _ env: [String: String]) -> String {
        if let configured { return configured }
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] { if let r = env[name], !r.isEmpty { return r } }
        let profile = env["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let file = sharedFile(env, variable: "AWS_CONFIG_FILE", name: "config")
        // The config file names sections `[profile NAME]`, except `[default]`. Unreadable: same as absent.
        if let text = try? String(contentsOfFile: file, encoding: .utf8),
           let section = INI.section(profile == "default" ? "default" : "profile \(profile)", of: text),
           let region = section["region"], !region.isEmpty
        {
            return region
        }
        return "us-east-1"
    }

    private static func sharedFile(_ env: [String: String], variable: String, name: String) -> String {
        if let path = env[variable], !path.isEmpty { return path }
        let home = env["HOME"] ?? NSHomeDirectory()
        return home + "/.aws/" + name
    }
}

/// The INI dialect of the AWS shared files: `[section]`, `key = value`, `#` and `;` comments.
enum INI {
    static func section(_ wanted: String, of text: String) -> [String: String]? {
        var current: String?
        var found: [String: String]?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if current == wanted && found == nil { found = [:] }
                continue
            }
            guard current == wanted, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            found?[key] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return found
    }
}
