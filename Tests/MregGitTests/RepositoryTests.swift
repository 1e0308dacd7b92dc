import Foundation
import MregTestSupport
import Testing

@testable import MregGit

let fixedIdentity = Identity(
    author: Signature(name: "Ada Tester", email: "ada@example.com", time: 1_700_000_000),
    committer: Signature(name: "Ada Tester", email: "ada@example.com", time: 1_700_000_000))

func blobs(_ repo: Repository, _ files: [String: String]) throws -> [String: TreeChange] {
    var changes = [String: TreeChange]()
    for (path, text) in files { changes[path] = .blob(try repo.writeBlob(Data(text.utf8))) }
    return changes
}

@Suite struct RepositoryTests {
    @Test func commitInCheckedOutBranchKeepsStatusClean() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path)
        #expect(repo.headReferenceName == "refs/heads/main")
        let c1 = try repo.commit(
            changes: try blobs(repo, ["a.txt": "one\n", "models/m/v1/x.json": "{}"]), onBranch: "refs/heads/main",
            parent: nil, message: "first", identity: fixedIdentity)
        let c2 = try repo.commit(
            changes: try blobs(repo, ["models/m/v2/x.json": "[]"]).merging(["a.txt": .delete]) { a, _ in a },
            onBranch: "refs/heads/main", parent: c1, message: "second\n\nbody", identity: fixedIdentity)
        #expect(git(["status", "--porcelain"], in: dir.path).stdout == "")
        #expect(git(["fsck", "--strict"], in: dir.path).status == 0)
        #expect(git(["log", "--format=%H %s %an <%ae> %at"], in: dir.path).stdout
            == "\(c2.hex) second Ada Tester <ada@example.com> 1700000000\n\(c1.hex) first Ada Tester <ada@example.com> 1700000000")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("a.txt")))
        #expect(try String(contentsOfFile: dir.sub("models/m/v2/x.json"), encoding: .utf8) == "[]")
        // Same inputs, same ids: the commit is deterministic.
        #expect(c1.hex == git(["rev-parse", "HEAD~1"], in: dir.path).stdout)
        let info = try repo.commit(c2)
        #expect(info.parents == [c1])
        #expect(info.summary == "second")
        #expect(info.message == "second\n\nbody")
    }

    @Test func commitOnOtherBranchTouchesOnlyObjectsAndRefs() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path)
        let c1 = try repo.commit(
            changes: try blobs(repo, ["a.txt": "one\n"]), onBranch: "refs/heads/main", parent: nil, message: "first",
            identity: fixedIdentity)
        let side = try repo.commit(
            changes: try blobs(repo, ["a.txt": "two\n", "b.txt": "new\n"]), onBranch: "refs/heads/side", parent: c1,
            newBranch: true, message: "side", identity: fixedIdentity)
        #expect(git(["status", "--porcelain"], in: dir.path).stdout == "")
        #expect(try String(contentsOfFile: dir.sub("a.txt"), encoding: .utf8) == "one\n")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("b.txt")))
        #expect(git(["rev-parse", "side"], in: dir.path).stdout == side.hex)
        #expect(git(["show", "side:b.txt"], in: dir.path).stdout == "new")
    }

    @Test func bareRepository() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path, bare: true)
        #expect(repo.isBare)
        #expect(repo.workdir == nil)
        let c1 = try repo.commit(
            changes: try blobs(repo, ["deploy/production.yaml": "x: 1\n"]), onBranch: "refs/heads/main", parent: nil,
            message: "first", identity: fixedIdentity)
        #expect(git(["--git-dir", dir.path, "fsck", "--strict"], in: dir.path).status == 0)
        #expect(git(["--git-dir", dir.path, "show", "main:deploy/production.yaml"], in: dir.path).stdout == "x: 1")
        #expect(try repo.resolveCommit("main") == c1)
        let tree = try repo.treeID(ofCommit: c1)
        #expect(try repo.file(at: "deploy/production.yaml", inTree: tree) == Data("x: 1\n".utf8))
        #expect(try repo.file(at: "deploy/missing.yaml", inTree: tree) == nil)
        #expect(try repo.file(at: "deploy", inTree: tree) == nil)
    }

    @Test func compareAndSwapNeverOverwrites() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path, bare: true)
        let c1 = try repo.commit(
            changes: try blobs(repo, ["a": "1"]), onBranch: "refs/heads/main", parent: nil, message: "1",
            identity: fixedIdentity)
        let c2 = try repo.commit(
            changes: try blobs(repo, ["a": "2"]), onBranch: "refs/heads/main", parent: c1, message: "2",
            identity: fixedIdentity)
        // A second writer that still believes main is at c1 loses, and main stays at c2.
        #expect(throws: GitError.refMoved(ref: "refs/heads/main", expected: c1, actual: c2)) {
            try repo.commit(
                changes: try blobs(repo, ["a": "3"]), onBranch: "refs/heads/main", parent: c1, message: "3",
                identity: fixedIdentity)
        }
        #expect(try repo.referenceTarget("refs/heads/main") == c2)
        // Creating a ref that exists loses too.
        #expect(throws: GitError.refMoved(ref: "refs/heads/main", expected: nil, actual: c2)) {
            try repo.updateReference("refs/heads/main", to: c1, expected: nil, message: "x")
        }
        // Expecting a ref that does not exist loses.
        #expect(throws: GitError.self) {
            try repo.updateReference("refs/heads/nope", to: c1, expected: c2, message: "x")
        }
        #expect(try repo.referenceTarget("refs/heads/nope") == nil)
        try repo.deleteReference("refs/heads/main", expected: c2)
        #expect(try repo.referenceTarget("refs/heads/main") == nil)
    }

    @Test func concurrentWritersFromManyRepositoryHandles() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let root = try Repository.create(at: dir.path, bare: true)
        let base = try root.commit(
            changes: try blobs(root, ["n": "0"]), onBranch: "refs/heads/main", parent: nil, message: "0",
            identity: fixedIdentity)
        let path = dir.path
        let outcomes = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let repo = try! Repository.open(at: path)
            var landed = false
            for _ in 0..<100 where !landed {
                let tip = try! repo.referenceTarget("refs/heads/main")!
                do {
                    try repo.commit(
                        changes: ["w\(i)": .blob(try repo.writeBlob(Data("\(i)".utf8)))], onBranch: "refs/heads/main",
                        parent: tip, message: "writer \(i)", identity: fixedIdentity)
                    landed = true
                } catch GitError.refMoved {
                    outcomes.increment()
                } catch {
                    Issue.record("unexpected \(error)")
                    return
                }
            }
            #expect(landed)
        }
        let tip = try root.referenceTarget("refs/heads/main")!
        let tree = try root.treeID(ofCommit: tip)
        for i in 0..<8 { #expect(try root.file(at: "w\(i)", inTree: tree) == Data("\(i)".utf8)) }
        #expect(try root.log(from: tip).count == 9)
        #expect(try root.log(from: tip).last == base)
        #expect(git(["--git-dir", path, "fsck", "--strict"], in: path).status == 0)
    }

    @Test func treeEditsAndInvalidPaths() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path, bare: true)
        let t1 = try repo.writeTree(base: nil, changes: try blobs(repo, ["a/b/c": "1", "a/d": "2", "e": "3"]))
        let t2 = try repo.writeTree(base: t1, changes: ["a/b/c": .delete, "e": .delete, "f/g": .blob(try repo.writeBlob(Data("4".utf8)), executable: true)])
        #expect(try repo.entry(at: "a/b", inTree: t2) == nil)
        #expect(try repo.entry(at: "a/d", inTree: t2) != nil)
        #expect(try repo.entry(at: "f/g", inTree: t2)?.isExecutable == true)
        let changes = try repo.diffTrees(t1, t2)
        #expect(changes.map { "\($0.status.rawValue) \($0.path)" } == ["deleted a/b/c", "deleted e", "added f/g"])
        #expect(try repo.diffTrees(t1, t1).isEmpty)
        #expect(try repo.diffTrees(nil, t1).count == 3)
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a/", ".git/config", "a/.git/x", "..", "x\u{0}y"] {
            #expect(throws: GitError.invalidPath(bad)) { try repo.writeTree(base: t1, changes: [bad: .delete]) }
        }
        // Deleting everything gives the empty tree.
        let empty = try repo.writeTree(base: t1, changes: ["a": .delete, "e": .delete])
        #expect(empty.hex == "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    }

    @Test func refusesToOverwriteLocalChanges() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path)
        let c1 = try repo.commit(
            changes: try blobs(repo, ["deploy/p.yaml": "a\n"]), onBranch: "refs/heads/main", parent: nil, message: "1",
            identity: fixedIdentity)
        try Data("edited by hand\n".utf8).write(to: URL(fileURLWithPath: dir.sub("deploy/p.yaml")))
        #expect(throws: GitError.dirtyWorkingTree(["deploy/p.yaml"])) {
            try repo.commit(
                changes: try blobs(repo, ["deploy/p.yaml": "b\n"]), onBranch: "refs/heads/main", parent: c1,
                message: "2", identity: fixedIdentity)
        }
        #expect(try repo.referenceTarget("refs/heads/main") == c1)
        #expect(try String(contentsOfFile: dir.sub("deploy/p.yaml"), encoding: .utf8) == "edited by hand\n")
        // A change elsewhere still lands and leaves the hand edit alone.
        try repo.commit(
            changes: try blobs(repo, ["other.txt": "x"]), onBranch: "refs/heads/main", parent: c1, message: "2",
            identity: fixedIdentity)
        #expect(git(["status", "--porcelain"], in: dir.path).stdout == " M deploy/p.yaml")
    }

    @Test func readsHistoryWrittenByGit() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let p = dir.path
        git(["init", "-q"], in: p)
        dir.write("deploy/prod.yaml", "v1\n")
        git(["add", "."], in: p)
        git(["commit", "-qm", "one"], in: p)
        git(["checkout", "-qb", "feature"], in: p)
        dir.write("deploy/prod.yaml", "v2\n")
        git(["commit", "-qam", "two on feature"], in: p)
        git(["checkout", "-q", "main"], in: p)
        dir.write("README", "x\n")
        git(["add", "."], in: p)
        git(["commit", "-qm", "unrelated"], in: p, environment: ["GIT_COMMITTER_DATE": "1700000100 +0000", "GIT_AUTHOR_DATE": "1700000100 +0000"])
        git(["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"], in: p, environment: ["GIT_COMMITTER_DATE": "1700000200 +0000", "GIT_AUTHOR_DATE": "1700000200 +0000"])
        let repo = try Repository.open(at: p + "/deploy", search: true)
        #expect(repo.workdir == p + "/")
        let tip = try repo.resolveCommit("main")!
        #expect(try repo.commit(tip).parents.count == 2)
        let changes = try repo.history(from: tip, touching: ["deploy/prod.yaml"])
        #expect(changes.count == 2)
        #expect(try repo.commit(changes[0].commit).summary == "Merge feature")
        #expect(try repo.commit(changes[1].commit).summary == "one")
        #expect(try repo.log(from: tip, firstParent: true).count == 3)
        #expect(try repo.log(from: tip).count == 4)
        let first = try repo.resolveCommit("main~1")!
        #expect(try repo.isAncestor(first, of: tip))
        #expect(try !repo.isAncestor(tip, of: first))
        #expect(try repo.mergeBase(tip, try repo.resolveCommit("feature")!) == repo.resolveCommit("feature"))
        // mreg commits on top of git's merge keep fsck and status happy.
        try repo.commit(
            changes: try blobs(repo, ["deploy/prod.yaml": "v3\n"]), onBranch: "refs/heads/main", parent: tip,
            message: "three", identity: fixedIdentity)
        #expect(git(["status", "--porcelain"], in: p).stdout == "")
        #expect(git(["fsck", "--strict"], in: p).status == 0)
        #expect(try String(contentsOfFile: p + "/deploy/prod.yaml", encoding: .utf8) == "v3\n")
    }

    @Test func errorsNameTheFunctionAndLibgit2Message() throws {
        do {
            _ = try Repository.open(at: "/nonexistent/repo")
            Issue.record("opened a missing repository")
        } catch {
            #expect(error.description.hasPrefix("git_repository_open_ext: "))
            #expect(error.code == -3)
        }
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path, bare: true)
        #expect(try repo.resolveCommit("main") == nil)
        #expect(throws: GitError.self) { try repo.commit(ObjectID(hex: String(repeating: "ab", count: 20))!) }
        #expect(ObjectID(hex: "xyz") == nil)
        #expect(throws: GitError.self) { _ = try Repository.create(at: dir.path, bare: true) }
    }

    @Test func identityFromEnvironmentAndConfig() throws {
        let dir = TempDir("git")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path)
        try repo.setConfigString("user.name", "Config Person")
        try repo.setConfigString("user.email", "config@example.com")
        let fromConfig = try repo.identity(environment: [:], now: Date(timeIntervalSince1970: 5))
        #expect(fromConfig.author.formatted == "Config Person <config@example.com>")
        #expect(fromConfig.author.time == 5)
        let fromEnv = try repo.identity(environment: testEnvironment.merging(["GIT_COMMITTER_DATE": "@1700000500 -0130"]) { _, b in b })
        #expect(fromEnv.author.formatted == "Ada Tester <ada@example.com>")
        #expect(fromEnv.committer.time == 1_700_000_500)
        #expect(fromEnv.committer.offsetMinutes == -90)
        #expect(throws: GitError.self) { try repo.identity(environment: ["GIT_AUTHOR_DATE": "yesterday"]) }
        #expect(Identity.parseDate("2026-01-02T03:04:05+02:00")! == (1_767_315_845, 120))
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() {
        lock.lock()
        value += 1
        lock.unlock()
    }
}
