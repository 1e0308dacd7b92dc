import Foundation
import MregCore
import MregGit
import MregReconciler
import MregTestSupport
import Testing

@Suite(.serialized) struct SignatureTests {
    /// Keys made by ssh-keygen, and an allowed-signers file naming all but `stranger`.
    func keys(_ dir: TempDir) -> String {
        for (name, type) in [("ed", "ed25519"), ("ec", "ecdsa"), ("rsa", "rsa"), ("stranger", "ed25519")] {
            let r = run("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", dir.sub(name)])
            #expect(r.status == 0, "ssh-keygen: \(r.stderr)")
        }
        var lines = ["# people allowed to deploy"]
        for name in ["ed", "ec", "rsa"] {
            let pub = ((try? String(contentsOfFile: dir.sub(name + ".pub"), encoding: .utf8)) ?? "? ?").split(separator: " ")
            // The committer of every test commit is ada@example.com: the signer must be allowed as her.
            lines.append("ada@example.com,\(name)@example.com namespaces=\"git\" \(pub[0]) \(pub[1]) \(name)")
        }
        return dir.write("allowed_signers", lines.joined(separator: "\n") + "\n")
    }

    /// Commits everything (signed with `key` when given, as `git commit -S` with gpg.format=ssh) and pushes.
    func signed(_ lab: Lab, key: String?, _ message: String) -> String {
        git(["add", "-A"], in: lab.work)
        let sign = key.map { ["-c", "gpg.format=ssh", "-c", "user.signingkey=\($0)"] } ?? []
        let r = git(sign + ["commit", "-q", "--allow-empty"] + (key == nil ? [] : ["-S"]) + ["-m", message], in: lab.work)
        #expect(r.status == 0, "git commit -S: \(r.stderr)")
        #expect(git(["push", "-q", "origin", "main"], in: lab.work).status == 0)
        return git(["rev-parse", "HEAD"], in: lab.work).stdout
    }

    @Test func onlyTipsSignedByAllowedKeysAreApplied() async throws {
        let lab = try Lab()
        defer { lab.close() }
        let allowed = keys(lab.dir)
        var config = lab.configuration()
        config.verifier = try SignatureVerifier(allowedSignersFile: allowed)
        let reconciler = try Reconciler(configuration: config)

        // The initial commit is unsigned: refused, nothing served.
        let unsigned = await reconciler.pass()
        #expect(unsigned.outcome == .rejected)
        #expect(unsigned.detail?.contains("is not signed") == true)
        #expect(try await lab.serving().isEmpty)

        for key in ["ed", "ec", "rsa"] {
            let tip = signed(lab, key: lab.dir.sub(key), "signed with \(key)")
            // ssh-keygen agrees (git verify-commit runs `ssh-keygen -Y verify`).
            let check = git(["-c", "gpg.ssh.allowedSignersFile=\(allowed)", "verify-commit", tip], in: lab.work)
            #expect(check.status == 0, "\(check.stderr)")
            let pass = await reconciler.pass()
            #expect(pass.outcome == .applied, "\(key): \(pass)")
            #expect(reconciler.board.current.appliedCommit == tip)
        }
        let goodTip = reconciler.board.current.appliedCommit

        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v2")])
        let strangers = signed(lab, key: lab.dir.sub("stranger"), "v2 signed by a stranger")
        let refused = await reconciler.pass()
        #expect(refused.outcome == .rejected)
        #expect(refused.detail?.contains("not in the allowed signers") == true, "\(refused.detail ?? "")")
        #expect(reconciler.board.current.failed?.commit == strangers)
        #expect(reconciler.board.current.appliedCommit == goodTip)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))

        let plain = signed(lab, key: nil, "v2 unsigned")
        #expect(await reconciler.pass().outcome == .rejected)
        #expect(reconciler.board.current.failed?.commit == plain)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
    }

    @Test func tamperedDataAndBadFilesAreRefused() throws {
        let dir = TempDir("sig")
        defer { dir.remove() }
        let allowed = keys(dir)
        let verifier = try SignatureVerifier(allowedSignersFile: allowed)
        #expect(verifier.signers.count == 3)
        #expect(verifier.signers[0].principals == ["ada@example.com", "ed@example.com"] && verifier.signers[0].namespaces == ["git"])
        let message = dir.write("message", "tree 0000\n\nhello\n")
        let r = run("/usr/bin/ssh-keygen", ["-q", "-Y", "sign", "-n", "git", "-f", dir.sub("ed"), message])
        #expect(r.status == 0, "\(r.stderr)")
        let armored = try String(contentsOfFile: message + ".sig", encoding: .utf8)
        #expect(throws: Never.self) { try verifier.verify(armored: armored, data: Data("tree 0000\n\nhello\n".utf8)) }
        #expect(throws: SignatureError.self) { try verifier.verify(armored: armored, data: Data("tree 0000\n\nhellO\n".utf8)) }
        // The same key in another namespace does not count for git.
        _ = run("/usr/bin/ssh-keygen", ["-q", "-Y", "sign", "-n", "file", "-f", dir.sub("ed"), dir.write("m2", "x")])
        let other = try String(contentsOfFile: dir.sub("m2.sig"), encoding: .utf8)
        #expect(throws: SignatureError.wrongNamespace("file")) { try verifier.verify(armored: other, data: Data("x".utf8)) }
        #expect(throws: SignatureError.self) { try verifier.verify(armored: "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n", data: Data()) }
        #expect(throws: SignatureError.self) {
            try SignatureVerifier.parseAllowedSigners("ada@example.com ssh-ed25519 not-base64!!\n", file: "f")
        }
    }

    /// One allowed-signers line for the key in `pub` (ssh-keygen's `.pub` text).
    func line(_ prefix: String, _ pub: String) -> String {
        let parts = pub.split(separator: " ")
        return "\(prefix) \(parts[0]) \(parts[1])\n"
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen"), "needs ssh-keygen (openssh-client) as the oracle"))
    func allowedSignersOptionsAgreeWithSSHKeygen() throws {
        let dir = TempDir("sig")
        defer { dir.remove() }
        #expect(run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "k", "-f", dir.sub("k")]).status == 0)
        let pub = try String(contentsOfFile: dir.sub("k.pub"), encoding: .utf8)
        let payload = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nsigned\n"
        let message = dir.write("message", payload)
        #expect(run("/usr/bin/ssh-keygen", ["-q", "-Y", "sign", "-n", "git", "-f", dir.sub("k"), message]).status == 0)
        let armored = try String(contentsOfFile: message + ".sig", encoding: .utf8)
        // (options and principals, identity, verify time as ssh-keygen reads it, the same in seconds)
        let nov2023 = ("20231114221320Z", Int64(1_700_000_000))
        let jun2024 = ("20240601000000Z", Int64(1_717_200_000))
        let cases: [(String, String, (String, Int64))] = [
            ("ada@example.com namespaces=\"git\"", "ada@example.com", nov2023),
            ("*@example.com", "ada@example.com", nov2023),
            ("bob@example.com", "ada@example.com", nov2023),
            ("*@example.com,!ada@example.com", "ada@example.com", nov2023),
            ("a?a@example.com", "ada@example.com", nov2023),
            ("ada@example.com valid-after=\"20240101\"", "ada@example.com", nov2023),
            ("ada@example.com valid-after=\"20240101Z\"", "ada@example.com", jun2024),
            ("ada@example.com valid-before=\"20231001Z\"", "ada@example.com", nov2023),
            ("ada@example.com valid-before=\"202311142213Z\"", "ada@example.com", nov2023),
            ("ada@example.com valid-after=\"20230101000000Z\",valid-before=\"20240101UTC\"", "ada@example.com", nov2023),
            ("ada@example.com namespaces=\"file\"", "ada@example.com", nov2023),
            ("ada@example.com namespaces=\"g*,file\"", "ada@example.com", nov2023),
            ("ada@example.com valid-after=20200101", "ada@example.com", nov2023),
            ("ada@example.com bogus=\"x\"", "ada@example.com", nov2023),
            ("ada@example.com valid-after=\"2024-01-01\"", "ada@example.com", nov2023),
            ("ada@example.com valid-after=\"20240101\",valid-before=\"20230101\"", "ada@example.com", nov2023),
        ]
        for (prefix, identity, time) in cases {
            let file = dir.write("allowed", line(prefix, pub))
            let oracle = run("/usr/bin/env", ["TZ=UTC", "/bin/sh", "-c",
                "/usr/bin/ssh-keygen -Y verify -f '\(file)' -I '\(identity)' -n git -s '\(message).sig' -Overify-time=\(time.0) < '\(message)'"])
            var mine: Result<Void, Error>
            do {
                let verifier = try SignatureVerifier(allowedSignersFile: file)
                try verifier.verify(armored: armored, data: Data(payload.utf8), identity: identity, time: time.1)
                mine = .success(())
            } catch {
                mine = .failure(error)
            }
            let agreed = (oracle.status == 0) == ((try? mine.get()) != nil)
            #expect(agreed, "\(prefix) at \(time.0): ssh-keygen exited \(oracle.status) (\(oracle.stdout)\(oracle.stderr)), mreg: \(mine)")
        }
        // What mreg says when it refuses, by case.
        let file = dir.write("allowed", line("ada@example.com valid-before=\"20231001Z\"", pub))
        #expect(throws: SignatureError.self) {
            do {
                try SignatureVerifier(allowedSignersFile: file).verify(armored: armored, data: Data(payload.utf8), identity: "ada@example.com", time: nov2023.1)
            } catch let e as SignatureError {
                #expect(e.description.contains("expired at 2023-10-01T00:00:00Z"), "\(e)")
                throw e
            }
        }
        let other = dir.write("allowed", line("bob@example.com", pub))
        #expect(throws: SignatureError.self) {
            do {
                try SignatureVerifier(allowedSignersFile: other).verify(armored: armored, data: Data(payload.utf8), identity: "ada@example.com", time: nov2023.1)
            } catch let e as SignatureError {
                #expect(e.description.contains("not allowed to sign as 'ada@example.com'"), "\(e)")
                throw e
            }
        }
        // A security-key line is refused when the file is read, never accepted and then half-checked.
        let skBlob = Data([0, 0, 0, 26] + Array("sk-ssh-ed25519@openssh.com".utf8) + [0, 0, 0, 32] + [UInt8](repeating: 7, count: 32)
                          + [0, 0, 0, 4] + Array("ssh:".utf8)).base64EncodedString()
        let sk = dir.write("allowed", "ada@example.com sk-ssh-ed25519@openssh.com \(skBlob)\n")
        #expect(throws: SignatureError.self) { try SignatureVerifier(allowedSignersFile: sk) }
        do {
            _ = try SignatureVerifier(allowedSignersFile: sk)
        } catch {
            #expect("\(error)".contains("security-key signers"), "\(error)")
        }
    }

    @Test func aRemovedSigningKeyIsReportedWithItsReasonOnEveryPass() async throws {
        let lab = try Lab()
        defer { lab.close() }
        let allowed = keys(lab.dir)
        var config = lab.configuration()
        config.verifier = try SignatureVerifier(allowedSignersFile: allowed)
        let tip = signed(lab, key: lab.dir.sub("ed"), "signed with ed")
        do {
            // Its own scope: the store's lock goes with it.
            let first = try Reconciler(configuration: config)
            #expect(await first.pass().outcome == .applied)
        }
        // The ed key leaves the file; a reconciler started with the new file refuses the tip, says why, keeps serving.
        let text = try String(contentsOfFile: allowed, encoding: .utf8)
        try text.split(separator: "\n").filter { !$0.hasSuffix(" ed") }.joined(separator: "\n").write(toFile: allowed, atomically: true, encoding: .utf8)
        config.verifier = try SignatureVerifier(allowedSignersFile: allowed)
        let second = try Reconciler(configuration: config)
        for _ in 0..<2 {
            let pass = await second.pass()
            #expect(pass.outcome == .rejected)
            #expect(pass.detail?.contains("not in the allowed signers") == true, "\(pass.detail ?? "no detail")")
        }
        #expect(second.board.current.failed?.commit == tip)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
    }
}
