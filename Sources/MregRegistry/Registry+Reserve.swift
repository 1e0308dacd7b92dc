import Foundation
import MregCore
import MregGit

/// Version numbers that two branches can never both take.
///
/// Each number is reserved by creating the tag `refs/tags/mreg/MODEL/vN` (an annotated tag naming
/// who reserved it), which succeeds only when the tag does not exist yet: locally, which covers
/// branches of one clone, and on the remote when the repository has one, where every Git host
/// refuses to create a tag that exists. The remote is the one place all clones share, so two
/// people training on two branches get two numbers and their merges never collide.
extension Registry {
    /// The reservation ref of a version.
    public static func reservationRef(_ model: String, _ version: String) -> String { "refs/tags/mreg/\(model)/\(version)" }

    /// The remote that reserves version numbers: `reservationRemote` when set, else `origin`, else
    /// the only remote; nil (reserve locally only) for a repository without remotes or with
    /// `reserveOnRemote` off.
    func reservationRemoteName() throws -> String? {
        guard reserveOnRemote else { return nil }
        let remotes = try repository.remoteNames()
        if let named = reservationRemote { return named }
        if remotes.contains("origin") { return "origin" }
        return remotes.count == 1 ? remotes[0] : nil
    }

    /// Reserves the next free version of `model` above `floor` (the highest number this branch and
    /// main already hold) and returns it (`v4`).
    func reserveVersion(model: String, floor: Int, target: ObjectID) throws -> String {
        let prefix = "refs/tags/mreg/\(model)/"
        func numbers(_ refs: some Sequence<String>) -> [Int] {
            refs.compactMap { $0.hasPrefix(prefix) ? Names.versionNumber(String($0.dropFirst(prefix.count))) : nil }
        }
        var next = max(floor, numbers(try repository.referenceNames(prefix: prefix)).max() ?? 0) + 1
        let remote = try reservationRemoteName()
        let credentials = Credentials.fromEnvironment(environment)
        if let remote {
            do {
                let advertised = try repository.remoteReferences(url: remote, credentials: credentials)
                next = max(next, (numbers(advertised.keys).max() ?? 0) + 1)
            } catch {
                throw RegistryError.invalidInput(
                    "cannot reserve a version number of '\(model)' on '\(remote)': \(error); pass --no-reserve to register without it (numbers may then collide with other branches)")
            }
        }
        let identity = try identity()
        for _ in 0..<50 {
            let version = "v\(next)"
            let ref = Registry.reservationRef(model, version)
            next += 1
            let nonce = (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined()
            let message = "Reserve \(model)@\(version)\n\nReserved-By: \(identity.author.formatted)\nNonce: \(nonce)\n"
            let tag = try repository.createTagObject(name: "mreg/\(model)/\(version)", target: target, message: message, tagger: identity.committer)
            if !(try createIfAbsent(ref, tag: tag, model: model, version: version)) { continue }  // taken on another branch here
            guard let remote else { return version }
            switch pushReservation(ref, to: remote, credentials: credentials) {
            case .reserved: return version
            case .taken: continue  // taken by another clone; the local tag now marks it as taken here too
            case .failed(let error):
                try? repository.deleteReference(ref, expected: tag)
                throw RegistryError.invalidInput(
                    "cannot reserve \(model)@\(version) on '\(remote)': \(error); pass --no-reserve to register without it (numbers may then collide with other branches)")
            }
        }
        throw RegistryError.branchMoved("the version numbers of '\(model)'")
    }

    /// Creates the local reservation ref; false when it exists already.
    private func createIfAbsent(_ ref: String, tag: ObjectID, model: String, version: String) throws -> Bool {
        do throws(GitError) {
            try repository.updateReference(ref, to: tag, expected: nil, message: "mreg: reserve \(model)@\(version)")
            return true
        } catch {
            if case .refMoved = error { return false }
            throw error
        }
    }

    private enum PushOutcome { case reserved, taken, failed(Error) }

    /// Creates the reservation ref on the remote, which refuses it when it exists.
    private func pushReservation(_ ref: String, to remote: String, credentials: Credentials) -> PushOutcome {
        do throws(GitError) {
            try repository.push(url: remote, refspecs: ["\(ref):\(ref)"], credentials: credentials)
            return .reserved
        } catch {
            if case .pushRejected = error { return .taken }
            return .failed(error)
        }
    }
}
