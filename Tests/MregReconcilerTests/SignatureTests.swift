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
            lines.append("\(name)@example.com namespaces=\"git\" \(pub[0]) \(pub[1]) \(name)")
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
        #expect(verifier.signers[0].principals == ["ed@example.com"] && verifier.signers[0].namespaces == ["git"])
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
}
