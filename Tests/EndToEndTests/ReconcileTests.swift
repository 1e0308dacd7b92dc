import Foundation
import MregTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Counts inference failures from a client that runs until stopped.
final class TrafficCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var ok = 0
    private var failed = [Int]()
    private var stopped = false

    func record(_ status: Int) {
        lock.lock()
        if status == 200 { ok += 1 } else { failed.append(status) }
        lock.unlock()
    }

    var succeeded: Int {
        lock.lock()
        defer { lock.unlock() }
        return ok
    }

    var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    func stop() -> (ok: Int, failed: [Int]) {
        lock.lock()
        defer { lock.unlock() }
        stopped = true
        return (ok, failed)
    }
}

@Suite(.serialized) struct ReconcileTests {
    @Test func promotionServesWithinOneIntervalWithZeroFailedRequests() async throws {
        let world = try ReconcileWorld("e2e-rec")
        defer { world.close() }
        let store = world.dir.sub("store")
        let (serve, server) = try startServe(store: store, log: world.dir.sub("serve.log"))
        defer { serve.stop() }
        let reconciler = try Daemon(mregBinary, [
            "reconcile", "--repo", world.url, "--env", "production", "--host", "h1", "--server", server, "--store", store,
            "--interval", "300ms", "--listen", "127.0.0.1:0",
        ], stdout: true, stderr: world.dir.sub("reconcile.log"))
        defer { reconciler.stop() }
        let first = reconciler.readLine() ?? ""
        #expect(first.hasPrefix("status on http://127.0.0.1:"), "\(first)")
        let status = String(first.dropFirst("status on ".count))
        #expect(reconciler.readLine()?.hasPrefix("applied ") == true)
        #expect(await servedVersion(server) == "v1")

        // A client runs throughout both promotions.
        let counter = TrafficCounter()
        let client = Task.detached {
            let session = URLSession(configuration: .ephemeral)
            while !counter.isStopped {
                let (code, _) = await httpJSON("POST", server + "/v2/models/penguins/infer", body: penguinRequest, session: session)
                counter.record(code)
            }
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        world.promote("    version: v1\n    canary:\n      version: v2\n      weight: 20\n", branch: "promote/penguins-v2-canary")
        #expect(reconciler.readLine()?.contains("serve penguins v1 (+v2 20%)") == true)

        world.promote("    version: v2\n", branch: "promote/penguins-v2")
        let pushed = Date()
        var switched: Date?
        while Date().timeIntervalSince(pushed) < 20 {
            if await servedVersion(server) == "v2" {
                switched = Date()
                break
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        // Let the client go on past the switch: a few answers from v2 (bounded in time; on a loaded
        // machine each request can take a while).
        let atSwitch = counter.succeeded
        let settle = Date()
        while counter.succeeded < max(atSwitch + 3, 6) && Date().timeIntervalSince(settle) < 10 {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let traffic = counter.stop()
        await client.value
        // How fast is a benchmark's business (scripts/bench/reconcile.sh, docs/benchmarks-reconcile.md);
        // here: it switched, and no request failed meanwhile.
        #expect(switched != nil, "v2 not served within 20 s of the push")
        #expect(traffic.failed.isEmpty, "failed requests: \(traffic.failed.prefix(10))")
        #expect(traffic.ok > atSwitch, "answers after the switch")

        // /status, /metrics, /healthz.
        let tip = git(["rev-parse", "main"], in: world.work).stdout
        var doc: [String: Any] = [:]
        for _ in 0..<50 {
            doc = (await httpJSON("GET", status + "/status")).1 as? [String: Any] ?? [:]
            if doc["appliedCommit"] as? String == tip { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(doc["appliedCommit"] as? String == tip && doc["desiredCommit"] as? String == tip)
        #expect(doc["converged"] as? Bool == true && doc["host"] as? String == "h1")
        let models = doc["models"] as? [[String: Any]] ?? []
        #expect((models.first?["serving"] as? [String: Any])?["version"] as? String == "v2")
        #expect(models.first?["state"] as? String == "serving")
        let passes = doc["passes"] as? [[String: Any]] ?? []
        #expect(passes.count == 20 || passes.count > 3)
        #expect(passes.allSatisfy { $0["outcome"] is String && $0["durationSeconds"] is Double })
        let (metricsCode, _) = await httpJSON("GET", status + "/metrics")
        #expect(metricsCode == 200)
        let metrics = try String(contentsOf: URL(string: status + "/metrics")!, encoding: .utf8)
        #expect(metrics.contains("mreg_reconcile_converged{host=\"h1\",environment=\"production\"} 1"))
        #expect(metrics.contains("mreg_reconcile_passes_total{host=\"h1\",environment=\"production\",outcome=\"applied\"} 3"))
        #expect(await httpJSON("GET", status + "/healthz").0 == 200)

        // The fleet table: this host converged, a host that does not answer is unknown (exit 1).
        let dead = "http://127.0.0.1:\(freePort())"
        let fleet = mreg(["status", "--hosts", "\(status),\(dead)"], in: world.dir.path)
        #expect(fleet.status == 1)
        let lines = fleet.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.first { $0.contains(status) }?.contains("converged") == true, "\(fleet.stdout)")
        #expect(lines.first { $0.contains(dead) }?.contains("unknown") == true, "\(fleet.stdout)")
        #expect(mreg(["status", "--hosts", status], in: world.dir.path).status == 0)
    }

    @Test func onceExitCodes() throws {
        let world = try ReconcileWorld("e2e-once")
        defer { world.close() }
        let store = world.dir.sub("store")
        let (serve, server) = try startServe(store: store, log: world.dir.sub("serve.log"))
        defer { serve.stop() }
        let args = ["reconcile", "--repo", world.url, "--env", "production", "--host", "h1", "--server", server, "--store", store, "--once"]
        let applied = mreg(args, in: world.dir.path)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.hasPrefix("applied "))
        #expect(mreg(args, in: world.dir.path).stdout.hasPrefix("unchanged "))
        // A manifest naming a version that does not exist: refused, exit 1, v1 keeps serving.
        world.promote("    version: v9\n", branch: "promote/v9")
        let refused = mreg(args, in: world.dir.path)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("penguins@v9, which does not exist"))
        // Usage errors exit 2 with one line.
        let usage = mreg(args.filter { $0 != "--once" } + ["--interval", "soon"], in: world.dir.path)
        #expect(usage.status == 2 && usage.isOneLineError, "\(usage.stderr)")
    }

    /// kill -9 at varied moments of an apply (versions with a large file take a while to write and
    /// fsync): after each restart the host converges, nothing half-written is ever loaded, and no
    /// staging folder is left behind.
    @Test func killNineMidApplyConverges() async throws {
        let world = try ReconcileWorld("e2e-kill")
        defer { world.close() }
        // Three more versions carrying 3 MiB each.
        let v1 = world.work + "/models/penguins/v1/model.json"
        for n in 0..<3 {
            let folder = world.dir.sub("art\(n)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: v1, toPath: folder + "/model.json")
            var bytes = [UInt8](repeating: 0, count: 3 << 20)
            for i in stride(from: 0, to: bytes.count, by: 4096) { bytes[i] = UInt8((i / 4096 + n) & 0xff) }
            try Data(bytes).write(to: URL(fileURLWithPath: folder + "/weights.bin"))
            let r = mreg(["register", "penguins", "--from", folder, "-m", "big \(n)"], in: world.work)
            #expect(r.status == 0, "\(r.stderr)")
        }
        git(["push", "-q", world.url, "main"], in: world.work)
        let store = world.dir.sub("store")
        let (serve, server) = try startServe(store: store, log: world.dir.sub("serve.log"))
        defer { serve.stop() }
        let args = ["reconcile", "--repo", world.url, "--env", "production", "--host", "h1", "--server", server, "--store", store, "--interval", "100ms"]
        #expect(mreg(args + ["--once"], in: world.dir.path).status == 0)

        let targets = ["v3", "v4", "v5"]
        var interrupted = [String]()
        for (round, version) in targets.enumerated() {
            world.promote("    version: \(version)\n", branch: "promote/round-\(round)")
            // Killed as soon as a staging folder shows, as soon as the version folder is in place
            // (before the switch), and after a fixed delay.
            let moments: [(String, (([String]) -> Bool)?)] = [
                ("staging", { names in names.contains { $0.hasPrefix(".staging-") } }),
                ("installed", { _ in FileManager.default.fileExists(atPath: "\(store)/penguins/\(version)") }),
                ("delay", nil),
            ]
            for (name, moment) in moments {
                let d = try Daemon(mregBinary, args, stderr: world.dir.sub("reconcile.log"))
                let deadline = Date().addingTimeInterval(3)
                if let moment {
                    while Date() < deadline && !moment((try? FileManager.default.contentsOfDirectory(atPath: store)) ?? []) { usleep(500) }
                    if Date() < deadline { interrupted.append(name) }
                } else {
                    usleep(60_000)
                }
                d.stop(signal: SIGKILL)
                // Whatever the server serves is a complete version mreg placed.
                if let served = await servedVersion(server) {
                    #expect(FileManager.default.fileExists(atPath: "\(store)/penguins/\(served)/.mreg-version"))
                }
            }
            let final = mreg(args + ["--once"], in: world.dir.path)
            #expect(final.status == 0, "round \(round): \(final.stdout) \(final.stderr)")
            #expect(await servedVersion(server) == version)
            let names = try FileManager.default.contentsOfDirectory(atPath: store)
            #expect(names.filter { $0.hasPrefix(".staging") || $0.hasPrefix(".trash") }.isEmpty, "\(names)")
            let folders = try FileManager.default.contentsOfDirectory(atPath: store + "/penguins").filter { $0.hasPrefix("v") }
            #expect(folders == [version], "round \(round): \(folders)")
            let weights = "\(store)/penguins/\(version)/weights.bin"
            #expect((try? FileManager.default.attributesOfItem(atPath: weights)[.size] as? Int) == 3 << 20)
        }
        #expect(interrupted.filter { $0 == "staging" }.count >= 1, "killed mid-stage: \(interrupted)")
    }

    /// Three hosts on loopback, each with its own server and reconciler, converge on one commit
    /// (scripts/fleet.sh does the same in network namespaces, and measures it).
    @Test func threeHostsConvergeOnOneCommit() async throws {
        let world = try ReconcileWorld("e2e-fleet")
        defer { world.close() }
        var processes = [Daemon]()
        defer { processes.forEach { $0.stop() } }
        var servers = [String](), statuses = [String]()
        for i in 1...3 {
            let store = world.dir.sub("h\(i)/store")
            let (serve, server) = try startServe(store: store, log: world.dir.sub("h\(i)/serve.log"))
            processes.append(serve)
            servers.append(server)
            let r = try Daemon(mregBinary, [
                "reconcile", "--repo", world.url, "--env", "production", "--host", "host-\(i)", "--server", server,
                "--store", store, "--interval", "200ms", "--listen", "127.0.0.1:0",
            ], stdout: true, stderr: world.dir.sub("h\(i)/reconcile.log"))
            processes.append(r)
            statuses.append(String((r.readLine() ?? "").dropFirst("status on ".count)))
        }
        world.promote("    version: v2\n", branch: "promote/penguins-v2")
        let pushed = Date()
        var all = false
        while !all && Date().timeIntervalSince(pushed) < 30 {
            var versions = [String?]()
            for server in servers { versions.append(await servedVersion(server)) }
            all = versions.allSatisfy { $0 == "v2" }
            if !all { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        #expect(all, "not every host serves v2 after 30 s")
        // How fast is measured by scripts/fleet.sh on a quiet machine, not asserted here.
        let tip = git(["rev-parse", "main"], in: world.work).stdout
        // The hosts record the pass after the switch: wait for that fact, not for a time.
        var hosts = [[String: Any]]()
        let reported = Date().addingTimeInterval(30)
        repeat {
            let fleet = mreg(["status", "--hosts", statuses.joined(separator: ","), "--json"], in: world.dir.path)
            hosts = (json(fleet.stdout)["hosts"] as? [[String: Any]]) ?? []
            if hosts.count == 3 && hosts.allSatisfy({ ($0["status"] as? [String: Any])?["appliedCommit"] as? String == tip && $0["state"] as? String == "converged" }) {
                #expect(fleet.status == 0, "\(fleet.stdout)")
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        } while Date() < reported
        #expect(hosts.count == 3)
        #expect(hosts.allSatisfy { ($0["status"] as? [String: Any])?["appliedCommit"] as? String == tip && $0["state"] as? String == "converged" }, "\(hosts)")
    }
}
