import Foundation
import MregCore
import Synchronization

/// A canary version and the percent of version-less requests it gets.
struct Canary: Sendable {
    let version: LoadedVersion
    let weight: Int
}

/// What one model serves: a stable version and maybe a canary.
final class ModelEntry: Sendable {
    let name: String
    let stable: LoadedVersion
    let canary: Canary?
    /// The versions that can be named in a request (stable and canary).
    let versions: [String: LoadedVersion]
    /// `GET /v2/models/NAME`, complete.
    let metadata: [UInt8]
    /// `GET /v2/models/NAME/ready`, complete.
    let readyBody: [UInt8]

    init(stable: LoadedVersion, canary: Canary?) {
        name = stable.name
        self.stable = stable
        self.canary = canary
        var versions = [stable.version: stable]
        if let canary { versions[canary.version.version] = canary.version }
        self.versions = versions
        var names = [stable.version]
        if let canary { names.append(canary.version.version) }
        metadata = Array(LoadedVersion.metadataDocument(name: name, versions: names, model: stable.model).encoded())
        readyBody = Array(JSONValue.object(["name": .string(name), "ready": true]).encoded())
    }

    /// The version a request without a version goes to: the canary for `weight` percent of draws.
    @inline(__always) func pick(_ draws: Draws) -> LoadedVersion {
        guard let canary else { return stable }
        return draws.percent() < canary.weight ? canary.version : stable
    }
}

/// An immutable snapshot of everything served; replaced whole on load and unload.
final class ServingTable: Sendable {
    let models: [String: ModelEntry]
    /// Models this host is told to serve but could not load, with the reason.
    let failures: [String: String]

    init(models: [String: ModelEntry], failures: [String: String]) {
        self.models = models
        self.failures = failures
    }

    static let empty = ServingTable(models: [:], failures: [:])

    /// Ready when every model the host is told to serve is loaded.
    var isReady: Bool { failures.isEmpty }

    var loadedCount: Int { models.values.reduce(0) { $0 + $1.versions.count } }
}

/// Publishes serving tables to request handlers without a lock on the request path.
///
/// Writers swap the table under a mutex and bump a generation number. Each thread keeps the last table
/// it saw with its generation; a request reads the generation with one atomic load and takes the
/// mutex only on the first request a thread serves after a swap. A thread that has been idle since a
/// swap keeps the previous table (and its models) alive until it serves again.
final class TableRouter: Sendable {
    private final class Cached: Sendable {
        let generation: Int
        let table: ServingTable
        init(generation: Int, table: ServingTable) {
            self.generation = generation
            self.table = table
        }
    }

    private let state = Mutex<(generation: Int, table: ServingTable)>((1, .empty))
    private let generation = Atomic<Int>(1)
    /// The per-thread slot: a retained `Cached`, released when the thread exits.
    private let key: pthread_key_t

    init() {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
        }
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        self.key = key
    }

    deinit {
        // Values left in threads leak; a server makes one router for its lifetime.
        pthread_key_delete(key)
    }

    /// The table in force now.
    @inline(__always) func current() -> ServingTable {
        let g = generation.load(ordering: .acquiring)
        let slot = pthread_getspecific(key)
        if let slot {
            let cached = Unmanaged<Cached>.fromOpaque(slot).takeUnretainedValue()
            if cached.generation == g { return cached.table }
        }
        let (gen, table) = state.withLock { ($0.generation, $0.table) }
        let fresh = Unmanaged.passRetained(Cached(generation: gen, table: table))
        pthread_setspecific(key, fresh.toOpaque())
        if let slot { Unmanaged<Cached>.fromOpaque(slot).release() }
        return table
    }

    /// Makes `table` the one in force; requests already running keep the table they started with.
    func publish(_ table: ServingTable) {
        state.withLock { s in
            s.generation += 1
            s.table = table
            generation.store(s.generation, ordering: .releasing)
        }
    }
}

/// A cheap, well-mixed pseudo-random stream for canary splits and capture sampling: SplitMix64 over
/// an atomic counter, so threads never share a generator state beyond one relaxed increment.
final class Draws: Sendable {
    private let counter = Atomic<UInt64>(wallNanos())

    /// A uniform 64-bit value.
    @inline(__always) func next() -> UInt64 {
        var z = counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<100.
    @inline(__always) func percent() -> Int { Int(next() % 100) }

    /// Uniform in [0, 100).
    @inline(__always) func fraction100() -> Double { Double(next() >> 11) * (100.0 / 9_007_199_254_740_992.0) }
}

/// Monotonic nanoseconds.
@inline(__always) func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Wall-clock nanoseconds since 1970.
@inline(__always) func wallNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
