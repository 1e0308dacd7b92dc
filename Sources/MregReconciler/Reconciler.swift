import Foundation
import MregCore
import MregGit
#if canImport(Glibc)
import Glibc
#endif

/// How a reconciler is set up: where the registry is, which environment and host it serves, and
/// the server and store it drives.
public struct ReconcilerConfiguration: Sendable {
    /// The remote: a URL (`git://`, `ssh://`, `https://`, `file://`) or a local path.
    public var repository: String
    public var environment: String
    public var host: String
    /// The model server's base URL (`http://127.0.0.1:8080`).
    public var server: String
    public var store: String
    public var branch = "main"
    /// The registry folder inside the repository (`ml/`), empty at the root.
    public var prefix = ""
    public var interval: TimeInterval = 30
    /// The share of the interval by which each wait is randomly lengthened or shortened.
    public var jitter = 0.1
    /// The longest wait after repeated network errors.
    public var maxBackoff: TimeInterval = 300
    public var adminToken: String?
    /// When set, only tips signed by one of these keys are applied.
    public var verifier: SignatureVerifier?
    /// The bare mirror; default `STORE/.mreg/mirror.git`.
    public var mirror: String?
    /// Report drift and new commits but change nothing.
    public var suspend = false
    public var credentials = Credentials()
    /// Timeout of each call to the model server.
    public var serverTimeout: TimeInterval = 10
    /// Longest wait for a Git call on the network (ref advertisement, fetch); libgit2 1.5 has no
    /// timeouts of its own, so a remote that accepts and never answers is cut off here.
    public var gitTimeout: TimeInterval = 60

    /// The engines this host drives, in the order a model's format picks them; empty: mreg serve at
    /// `server` alone. With engines, `server` is the mreg engine's URL, or empty when there is none.
    public var engines: [Engine] = []

    /// The engines, `server` as the mreg engine when none are listed.
    public var engineList: [Engine] { engines.isEmpty ? [Engine(kind: .mreg, url: server)] : engines }

    public init(repository: String, environment: String, host: String, server: String, store: String) {
        self.repository = repository
        self.environment = environment
        self.host = host
        self.server = server
        self.store = store
    }
}

/// A model target a host could not serve, and why.
struct ModelFailure: Sendable, Equatable {
    var target: ServingTarget
    var reason: String
}

/// A problem that stops a pass but is worth retrying: the remote or the server did not answer.
struct TransientError: Error, CustomStringConvertible {
    var description: String
}

/// The reconciler of one host: each pass reads the branch tip's manifest, compares it with what the
/// store holds and the server serves, and makes them equal: a commit wrong as a whole is refused,
/// a model the host cannot load is left as it was and reported while the others are applied.
public actor Reconciler {
    public nonisolated let configuration: ReconcilerConfiguration
    public nonisolated let board: StatusBoard
    let store: HostStore
    let client: ServerClient
    let mirror: Repository
    let mirrorPath: String
    let mirrorRef: String
    /// Network Git calls, one at a time: one stuck past its deadline holds it until it returns.
    let gitLane = BlockingLane()
    var state: PersistedState
    /// The last revision read (and its signature checked), reused while the tip stays.
    var cachedRevision: Revision?
    /// Consecutive passes that ended in a network error, for the backoff.
    var errorStreak = 0
    /// Models this host could not serve as asked, by name: left as they were, reported failed, and
    /// tried again only when the manifest asks for something else.
    var modelFailures: [String: ModelFailure] = [:]
    /// The engines other than mreg serve, by their index in `configuration.engineList`.
    let engineHosts: [Int: EngineHost]
    private let lockDescriptor: Int32

    /// The bare mirror at `path`, created when absent. Never deletes what mreg did not create: a
    /// folder given with `--mirror` that is not a bare repository (an ordinary clone, say) is
    /// refused; only mreg's own default mirror, or an empty folder, is replaced when broken.
    public static func openMirror(_ path: String, own: Bool, branch: String) throws -> Repository {
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "/HEAD") {
            let repo = try Repository.open(at: path)
            guard repo.isBare else {
                throw StoreError(path: path, reason: "the mirror must be a bare repository, and this one has a working tree; name another --mirror")
            }
            return repo
        }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            let empty = isDir.boolValue && ((try? fm.contentsOfDirectory(atPath: path))?.isEmpty ?? false)
            guard own || empty else {
                throw StoreError(path: path, reason: "is not a bare Git repository; mreg deletes nothing it did not create (remove it or name another --mirror)")
            }
            try? fm.removeItem(atPath: path)
        }
        return try Repository.create(at: path, bare: true, initialBranch: branch)
    }

    /// Opens (or creates) the store, its control folder and the mirror, takes the store's lock,
    /// and removes staging leftovers of an earlier run.
    public init(configuration: ReconcilerConfiguration) throws {
        let store = try HostStore(root: configuration.store)
        let fd = open(store.controlDirectory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if fd >= 0 { close(fd) }
            throw StoreError(path: configuration.store, reason: "another reconciler holds its lock (\(store.controlDirectory)/lock)")
        }
        store.cleanLeftovers()
        let mirrorPath = configuration.mirror ?? store.controlDirectory + "/mirror.git"
        let mirror: Repository
        do {
            mirror = try Reconciler.openMirror(mirrorPath, own: configuration.mirror == nil, branch: configuration.branch)
        } catch {
            close(fd)
            throw error
        }
        var hosts = [Int: EngineHost]()
        do {
            for (i, engine) in configuration.engineList.enumerated() where engine.kind != .mreg {
                hosts[i] = try EngineHost(engine, timeout: configuration.serverTimeout)
            }
        } catch {
            close(fd)
            throw error
        }
        var restored = PersistedState()
        let statePath = store.controlDirectory + "/" + PersistedState.fileName
        if let data = FileManager.default.contents(atPath: statePath), let json = try? JSONValue.parse(data) {
            restored = PersistedState(json: json)
        }
        let board = StatusBoard(ReconcilerStatus(
            host: configuration.host, environment: configuration.environment, branch: configuration.branch,
            remote: redactedURL(configuration.repository), server: configuration.server, intervalSeconds: configuration.interval))
        board.update { s in
            s.engines = configuration.engineList
            s.appliedCommit = restored.appliedCommit
            s.failed = restored.failed
            s.passes = restored.passes
        }
        self.configuration = configuration
        self.store = store
        self.lockDescriptor = fd
        self.mirror = mirror
        self.mirrorPath = mirrorPath
        self.mirrorRef = "refs/heads/" + configuration.branch
        self.client = ServerClient(baseURL: configuration.server, token: configuration.adminToken, timeout: configuration.serverTimeout)
        self.state = restored
        self.board = board
        self.engineHosts = hosts
    }

    deinit {
        close(lockDescriptor)
    }

    /// True when the last pass left the host serving what the branch tip asks for.
    public var converged: Bool { board.current.converged }

    /// Passes until cancelled, waiting the interval (with jitter) between them, or a capped
    /// exponential backoff after network errors.
    public func run(onPass: @Sendable (PassRecord) -> Void = { _ in }) async {
        while !Task.isCancelled {
            let record = await pass()
            onPass(record)
            let delay = nextDelay(after: record)
            try? await Task.sleep(nanoseconds: Reconciler.nanoseconds(delay))
        }
    }

    /// The longest wait between passes; a longer `interval` or backoff is cut to it.
    public static let maxDelay: TimeInterval = 7 * 86_400

    /// `seconds` as a sleep, clamped to 10 ms ... `maxDelay`: `UInt64(seconds * 1e9)` traps on a
    /// huge, infinite or NaN value.
    static func nanoseconds(_ seconds: TimeInterval) -> UInt64 {
        let clamped = seconds.isNaN ? 0.01 : min(max(seconds, 0.01), maxDelay)
        return UInt64(clamped * 1_000_000_000)
    }

    /// The wait before the next pass, without jitter: the interval, doubled for each network error
    /// in a row after the first, capped at `maxBackoff` (and at 32 intervals), never below the interval.
    public static func backoff(interval: TimeInterval, errorStreak: Int, maxBackoff: TimeInterval) -> TimeInterval {
        guard errorStreak > 0 else { return interval }
        let cap = max(interval, min(maxBackoff, interval * 32))
        return min(cap, interval * pow(2, Double(min(errorStreak - 1, 30))))
    }

    func nextDelay(after record: PassRecord) -> TimeInterval {
        // Clamped first: a jitter range of an infinite interval traps in `Double.random(in:)`.
        let interval = configuration.interval.isFinite ? min(max(configuration.interval, 0.01), Reconciler.maxDelay) : Reconciler.maxDelay
        errorStreak = record.outcome == .error ? errorStreak + 1 : 0
        let delay = Reconciler.backoff(interval: interval, errorStreak: errorStreak, maxBackoff: configuration.maxBackoff)
        let jitter = configuration.jitter.isFinite ? min(max(configuration.jitter, 0), 1) : 0
        let spread = delay * jitter
        return min(Reconciler.maxDelay, max(0.01, delay + Double.random(in: -spread...spread)))
    }

    // MARK: One pass

    /// One reconciliation pass; never throws: the outcome and its reason are in the record.
    @discardableResult
    public func pass() async -> PassRecord {
        let started = Date()
        let clock = ContinuousClock.now
        var outcome: PassOutcome
        var commit: String?
        var detail: String?
        do {
            (outcome, commit, detail) = try await reconcile()
        } catch let error as TransientError {
            (outcome, detail) = (.error, error.description)
        } catch {
            (outcome, detail) = (.error, "\(error)")
        }
        let elapsed = ContinuousClock.now - clock
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var record = PassRecord(started: started, seconds: seconds, outcome: outcome, commit: commit, detail: detail)
        let previous = state.passes.last
        // A pass that repeats the one before (idle, or the same refusal, or the same network error)
        // is not written: a quiet host does no disk writes.
        let repeated = previous.map { $0.outcome == outcome && $0.commit == commit && $0.detail == detail } ?? false
        record.repeatsPrevious = repeated
        state.record(record)
        if !repeated || outcome == .applied || outcome == .healed { persist() }
        let snapshot = state
        board.update { s in
            s.passes = snapshot.passes
            s.appliedCommit = snapshot.appliedCommit
            s.failed = snapshot.failed
            s.counters.passes[outcome, default: 0] += 1
            s.counters.lastPassSeconds = seconds
            if outcome == .error {
                s.lastError = (detail ?? "error", Date())
            } else if outcome == .rejected {
                s.lastError = (detail ?? "rejected", Date())
            } else if snapshot.failed == nil {
                // The first good pass clears the last error: health reports the present.
                s.lastError = nil
            }
            if s.converged { s.counters.lastSuccess = Date() }
        }
        return record
    }

    private func persist() {
        var data = state.json.encoded(pretty: true)
        data.append(0x0A)
        try? store.writeAtomically(store.controlDirectory + "/" + PersistedState.fileName, data)
    }

    private var suspended: Bool {
        configuration.suspend || FileManager.default.fileExists(atPath: store.controlDirectory + "/suspend")
    }

    /// Fetches the tip when it moved and picks the revision to apply: the tip, unless it was refused
    /// before or is refused now (then the applied commit, kept healthy; nil when there is none).
    private func chooseRevision() async throws -> (tip: ObjectID, revision: Revision?) {
        let tip = try await remoteTip()
        board.update { $0.desiredCommit = tip.hex }
        if try mirror.referenceTarget(mirrorRef) != tip {
            let (path, branch, ref) = (mirrorPath, configuration.branch, mirrorRef)
            let (url, credentials) = (configuration.repository, configuration.credentials)
            do {
                // On a handle of its own, off the cooperative pool: a fetch cut off by its deadline
                // may still be running when the next pass reads the mirror.
                try await gitLane.run("fetch from '\(redactedURL(url))'", seconds: configuration.gitTimeout) {
                    _ = try Repository.open(at: path).fetchBranch(branch, url: url, into: ref, credentials: credentials)
                }
            } catch {
                throw TransientError(description: "fetch failed: \(error)")
            }
            board.update { $0.counters.fetches += 1 }
        }

        // The tip, unless it was refused before (then the applied commit, kept healthy).
        var rejectedNow: String?
        var revision: Revision?
        if state.failed?.commit == tip.hex {
            // Refused before: not tried again until the branch moves.
        } else if let cached = cachedRevision, cached.commit == tip {
            revision = cached
        } else {
            do {
                try checkSignature(tip)
                revision = try readRevision(tip)
                cachedRevision = revision
            } catch let rejected as RevisionRejected {
                rejectedNow = rejected.reason
            }
        }
        if let reason = rejectedNow { recordFailure(tip, reason) }
        if revision == nil, let applied = state.appliedCommit, let id = ObjectID(hex: applied), mirror.contains(id) {
            revision = try? readRevision(id)
        }
        return (tip, revision)
    }

    /// The pass proper: returns the outcome, the commit aimed at and a detail line.
    private func reconcile() async throws -> (PassOutcome, String?, String?) {
        let (tip, chosen) = try await chooseRevision()
        let tipRefused = state.failed?.commit == tip.hex
        guard let revision = chosen else {
            board.update { $0.converged = false }
            return (.rejected, tip.hex, state.failed?.reason ?? "nothing applied yet")
        }

        let (routes, plan, enginePlans, serving, engineServing) = try await planPass(revision)
        let nativeIndex = configuration.engineList.firstIndex { $0.kind == .mreg }
        let native = routes.restrict(revision, to: nativeIndex ?? -1)
        publishModels(revision, serving: combined(serving, engineServing, routes), routes: routes)

        if let refusal = plan.refusal {
            if revision.commit == tip { recordFailure(tip, refusal) }
            board.update { $0.converged = false }
            return (.rejected, tip.hex, refusal)
        }
        let engineSummary = enginePlans.keys.sorted().flatMap { enginePlans[$0]!.map(\.text) }.joined(separator: "; ")
        let summary = [plan.summary, engineSummary].filter { !$0.isEmpty }.joined(separator: "; ")
        if plan.isEmpty && engineSummary.isEmpty {
            let newCommit = state.appliedCommit != revision.commit.hex
            // A refused tip may be the applied commit itself (its signer's key was removed since):
            // it stays refused, and served as it was.
            if revision.commit == tip && !tipRefused {
                state.appliedCommit = tip.hex
                state.failed = nil
            }
            board.update { $0.converged = !tipRefused && self.modelFailures.isEmpty }
            if tipRefused { return (.rejected, tip.hex, state.failed?.reason) }
            return (newCommit ? .applied : .unchanged, revision.commit.hex, failureDetail)
        }
        if suspended {
            board.update {
                $0.suspended = true
                $0.converged = false
            }
            return (.suspended, revision.commit.hex, "suspended; would " + summary)
        }
        board.update { $0.suspended = false }

        let isNewCommit = state.appliedCommit != revision.commit.hex
        do {
            let failed = plan.isEmpty ? [:] : try await apply(plan, native, serving: serving)
            for (model, reason) in failed { modelFailures[model] = ModelFailure(target: revision.models[model]!, reason: reason) }
        } catch let rejected as RevisionRejected {
            if revision.commit == tip && isNewCommit {
                recordFailure(tip, rejected.reason)
                board.update { $0.converged = false }
                return (.rejected, tip.hex, rejected.reason)
            }
            // Healing the applied commit failed: keep trying, as for a network error.
            throw TransientError(description: "healing \(revision.commit.short) failed: \(rejected.reason)")
        }
        for i in enginePlans.keys.sorted() where !enginePlans[i]!.isEmpty {
            let failed = try await applyEngine(engineHosts[i]!, enginePlans[i]!, revision)
            for (model, reason) in failed { modelFailures[model] = ModelFailure(target: revision.models[model]!, reason: reason) }
        }
        state.appliedCommit = revision.commit.hex
        if revision.commit == tip && !tipRefused { state.failed = nil }
        let after = nativeIndex == nil ? serving : ((try? await client.serving()) ?? serving)
        var engineAfter = engineServing
        for (i, host) in engineHosts { engineAfter[i] = (try? await self.engineServing(host)) ?? engineServing[i] }
        publishModels(revision, serving: combined(after, engineAfter, routes), routes: routes)
        board.update { $0.converged = !tipRefused && self.modelFailures.isEmpty }
        if tipRefused { return (.rejected, tip.hex, state.failed?.reason) }
        return (isNewCommit ? .applied : .healed, revision.commit.hex, [summary, failureDetail].compactMap { $0 }.joined(separator: "; "))
    }

    /// Reads what every engine serves and plans the changes: the mreg serve plan and each other
    /// engine's steps. Models no engine serves as asked are recorded failed first, so no plan touches them.
    private func planPass(_ revision: Revision) async throws -> (
        routes: EngineRoutes, plan: Plan, engines: [Int: [EngineStep]],
        serving: [String: ServingTarget], engineServing: [Int: [String: ServingTarget]]
    ) {
        let routes = EngineRoutes(revision, engines: configuration.engineList)
        let nativeIndex = configuration.engineList.firstIndex { $0.kind == .mreg }
        var serving = [String: ServingTarget]()
        if nativeIndex != nil {
            do {
                serving = try await client.serving()
            } catch {
                throw TransientError(description: "\(error)")
            }
        }
        var engineServing = [Int: [String: ServingTarget]]()
        for (i, host) in engineHosts { engineServing[i] = try await self.engineServing(host) }
        modelFailures = modelFailures.filter { revision.models[$0.key] == $0.value.target }
        for (model, reason) in routes.unserved { modelFailures[model] = ModelFailure(target: revision.models[model]!, reason: reason) }
        let plan = try nativeIndex == nil ? Plan() : makePlan(routes.restrict(revision, to: nativeIndex!), serving: serving)
        for (model, reason) in plan.failed { modelFailures[model] = ModelFailure(target: revision.models[model]!, reason: reason) }
        var enginePlans = [Int: [EngineStep]]()
        for (i, host) in engineHosts {
            let (steps, failed) = planEngine(host, routes.restrict(revision, to: i), serving: engineServing[i]!)
            for (model, reason) in failed { modelFailures[model] = ModelFailure(target: revision.models[model]!, reason: reason) }
            enginePlans[i] = steps
        }
        return (routes, plan, enginePlans, serving, engineServing)
    }

    /// What every engine serves, by model: an engine's answer for the models routed to it.
    private func combined(_ native: [String: ServingTarget], _ engines: [Int: [String: ServingTarget]], _ routes: EngineRoutes) -> [String: ServingTarget] {
        var out = native
        for (i, served) in engines {
            for (name, target) in served where routes.engine[name] == i || out[name] == nil { out[name] = target }
        }
        return out
    }

    /// The models this host does not serve as asked, one clause each; nil when there are none.
    private var failureDetail: String? {
        guard !modelFailures.isEmpty else { return nil }
        return "not served: " + modelFailures.keys.sorted().map { "\($0) (\(modelFailures[$0]!.reason))" }.joined(separator: ", ")
    }

    private func remoteTip() async throws -> ObjectID {
        let refs: [String: ObjectID]
        let (url, credentials) = (configuration.repository, configuration.credentials)
        do {
            refs = try await gitLane.run("remote '\(redactedURL(url))'", seconds: configuration.gitTimeout) {
                try Repository.remoteReferences(url: url, credentials: credentials)
            }
        } catch {
            throw TransientError(description: "remote '\(redactedURL(configuration.repository))': \(error)")
        }
        board.update { $0.counters.refAdvertisements += 1 }
        guard let tip = refs[mirrorRef] else {
            throw TransientError(description: "remote '\(redactedURL(configuration.repository))' has no branch '\(configuration.branch)'")
        }
        return tip
    }

    private func recordFailure(_ commit: ObjectID, _ reason: String) {
        if state.failed?.commit == commit.hex { return }
        state.failed = Failure(commit: commit.hex, reason: reason, at: Date())
    }

    private func checkSignature(_ commit: ObjectID) throws {
        guard let verifier = configuration.verifier else { return }
        let signature: CommitSignature?
        do {
            signature = try mirror.commitSignature(commit)
        } catch {
            throw RevisionRejected("commit \(commit.short): cannot read its signature: \(error)")
        }
        guard let signature else { throw RevisionRejected("commit \(commit.short) is not signed (--allowed-signers is set)") }
        // As `git verify-commit`: the signer must be allowed as the committer, at the commit's time.
        let committer: Signature
        do {
            committer = try mirror.commit(commit).committer
        } catch {
            throw RevisionRejected("commit \(commit.short): cannot read it: \(error)")
        }
        do {
            try verifier.verify(armored: signature.signature, data: signature.signedData, identity: committer.email, time: committer.time)
        } catch {
            throw RevisionRejected("commit \(commit.short): \(error)")
        }
    }

    private func readRevision(_ commit: ObjectID) throws -> Revision {
        do {
            return try Revision.read(mirror, commit: commit, prefix: configuration.prefix,
                                     environment: configuration.environment, host: configuration.host)
        } catch let e as RevisionRejected {
            throw e
        } catch let e as GitError {
            throw RevisionRejected("commit \(commit.short): \(e)")
        }
    }

    private func publishModels(_ revision: Revision, serving: [String: ServingTarget], routes: EngineRoutes) {
        let engines = configuration.engineList
        let managed = store.managedVersions()
        var rows = [ModelStatus]()
        for name in Set(revision.models.keys).union(serving.keys).sorted() {
            let desired = revision.models[name]
            let served = serving[name]
            let state: String
            var reason: String?
            if desired == nil && managed[name] == nil {
                state = "unmanaged"
            } else if desired != served, let failure = modelFailures[name], failure.target == desired {
                state = "failed"
                reason = failure.reason
            } else {
                state = desired == served ? "serving" : "drift"
            }
            var row = ModelStatus(name: name, desired: desired, serving: served, state: state, reason: reason)
            row.engine = routes.engine[name].map { engines[$0].kind.rawValue }
            rows.append(row)
        }
        board.update { $0.models = rows }
    }
}
