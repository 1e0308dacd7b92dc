import Foundation
import Testing

@testable import MregStore

@Suite struct SignatureTests {
    /// The GET Object example of the AWS SigV4 documentation for S3 ("Signature Calculations for
    /// the Authorization Header").
    @Test func matchesTheAWSExample() {
        let signer = S3Signer(
            credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", source: "test"),
            region: "us-east-1")
        let headers = signer.sign(
            method: "GET", path: "/test.txt", query: [],
            headers: ["host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9"],
            payloadHash: S3Signer.emptyPayload, date: Date(timeIntervalSince1970: 1_369_353_600))
        #expect(headers["x-amz-date"] == "20130524T000000Z")
        #expect(headers["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers["host"] == nil)
    }

    @Test func encodesLikeSigV4() {
        #expect(S3Signer.encode("a b/c~d*e", slash: false) == "a%20b/c~d%2Ae")
        #expect(S3Signer.encode("a/b=c", slash: true) == "a%2Fb%3Dc")
    }

    @Test func credentialsInTheStandardOrder() throws {
        let dir = NSTemporaryDirectory() + "mreg-creds-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s1\n\n[ci]\naws_access_key_id=AKCI\naws_secret_access_key=s2\naws_session_token = tok\n"
            .write(toFile: dir + "/credentials", atomically: true, encoding: .utf8)
        try "[default]\nregion = eu-north-1\n[profile ci]\nregion = ap-south-1\n".write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials", "AWS_CONFIG_FILE": dir + "/config"]

        let fromEnv = try S3Credentials.resolve(files.merging(["AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s0"]) { $1 })
        #expect(fromEnv.accessKeyID == "AKENV")
        #expect(fromEnv.source == "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        #expect(try S3Credentials.resolve(files).accessKeyID == "AKDEFAULT")
        let ci = try S3Credentials.resolve(files.merging(["AWS_PROFILE": "ci"]) { $1 })
        #expect(ci.accessKeyID == "AKCI" && ci.sessionToken == "tok")
        #expect(ci.source == "profile 'ci' in \(dir)/credentials")
        #expect(!ci.description.contains("s2") && !ci.description.contains("tok"))

        #expect(S3Credentials.region(configured: nil, files) == "eu-north-1")
        #expect(S3Credentials.region(configured: nil, files.merging(["AWS_PROFILE": "ci"]) { $1 }) == "ap-south-1")
        #expect(S3Credentials.region(configured: nil, files.merging(["AWS_DEFAULT_REGION": "us-west-2"]) { $1 }) == "us-west-2")
        #expect(S3Credentials.region(configured: "ca-central-1", files.merging(["AWS_REGION": "us-west-2"]) { $1 }) == "ca-central-1")
        #expect(S3Credentials.region(configured: nil, ["AWS_CONFIG_FILE": dir + "/none"]) == "us-east-1")

        do {
            _ = try S3Credentials.resolve(files.merging(["AWS_PROFILE": "nobody"]) { $1 })
            Issue.record("found credentials for a profile that is not there")
        } catch {
            #expect(error.description == "the store 's3' cannot be used: no credentials: AWS_ACCESS_KEY_ID is not set and there is no profile 'nobody' in \(dir)/credentials")
        }
    }
}
