import ArgumentParser
import Foundation
import MregCore
import MregRegistry

/// Options shared by promote and rollback.
struct PromotionOptions: ParsableArguments {
    @Option(help: "The promotion branch (default: promote/MODEL-VERSION-ENV).")
    var branch: String?

    @Option(name: .customLong("push"), help: ArgumentHelp("Push the branch to this remote, a name or a URL (a bare --push: origin).", valueName: "remote"))
    var pushRemote: String?

    @Flag(help: "Merge the branch into main here (for registries without a Git host).")
    var merge = false

    @Flag(help: "Promote even if gates fail (needs --reason; recorded in the commit).")
    var force = false

    @Option(help: "Why the gates are overridden.")
    var reason: String?

    @Option(name: [.short, .long], help: "A note kept in the commit.")
    var message: String?

    @Flag(help: "Print the promotion (title, body, gates) as JSON.")
    var json = false
}

struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Propose serving a version in an environment: a branch with one commit and a pull-request body.",
        discussion: """
            Checks the environment's gates (metrics, card, promotion order) and refuses with one
            line per failed rule (exit 1) unless --force --reason where the environment allows
            force (allowForce in mreg.yaml; production does not by default). Builds deploy/ENV.yaml from
            main's tree without touching the working tree, on branch promote/MODEL-VERSION-ENV,
            and prints a pull-request title and Markdown body. --canary P keeps the current
            version stable and sends P percent to the new one; promoting the same version again
            without --canary completes the rollout. --push [REMOTE] pushes the branch (default
            remote: origin); --merge fast-forwards main to it here and deletes the branch (with
            --push, main is pushed then).

            Examples:
              mreg promote penguins@v3 --to staging --merge
              mreg promote penguins@v3 --to production --canary 10 --push
              mreg promote penguins@v3 --to production --force --reason "hotfix for incident 42"
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "MODEL@VERSION (or MODEL@ENV: what that environment serves).")
    var reference: String

    @Option(help: "The environment.")
    var to: String

    @Option(help: "Send this percent of requests to the new version, the current one staying stable.")
    var canary: Int?

    @OptionGroup var promotion: PromotionOptions

    func validate() throws {
        if let canary, !(0...100).contains(canary) { throw ValidationError("--canary must be between 0 and 100") }
        if promotion.force && (promotion.reason ?? "").isEmpty { throw ValidationError("--force needs --reason TEXT") }
    }

    func run() throws {
        let registry = try options.open()
        let ref = try ModelReference(parsing: reference)
        let version = try registry.resolve(ref).version
        var request = PromotionRequest(model: ref.model, version: version, environment: try Names.environment(to))
        request.canary = canary
        try runPromotion(registry, &request, promotion)
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Propose going back to the version an environment served before (or to --to VERSION).",
        discussion: """
            The same flow as promote: a branch with one commit and a pull-request body. The
            version served before comes from main's history of deploy/ENV.yaml. Going back to a
            version the environment served before, gates are shown but only integrity blocks:
            in an incident the way back must stay open. --to a version it never served is a
            promotion like any other.

            Examples:
              mreg rollback penguins --env production --merge
              mreg rollback penguins --env production --to v2 --push
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "The model.")
    var model: String

    @Option(help: "The environment.")
    var env: String

    @Option(name: .customLong("to"), help: "The version to go back to (default: the one served before).")
    var version: String?

    @OptionGroup var promotion: PromotionOptions

    func validate() throws {
        if let version, Names.versionNumber(version) == nil { throw ValidationError("--to '\(version)' is not a version (v1, v2, ...)") }
    }

    func run() throws {
        let registry = try options.open()
        var request = PromotionRequest(model: try Names.model(model), version: version, environment: try Names.environment(env))
        request.kind = .rollback
        try runPromotion(registry, &request, promotion)
    }
}

/// Builds, optionally merges or pushes, and prints a promotion.
func runPromotion(_ registry: Registry, _ request: inout PromotionRequest, _ o: PromotionOptions) throws {
    request.branch = o.branch
    request.force = o.force
    request.reason = o.reason
    request.message = o.message
    var p: Promotion
    do {
        p = try registry.promote(request)
    } catch let refused as PromotionRefused {
        let forceRefused = refused.failures.contains { $0.rule == "force" }
        let summary = "promotion refused by \(refused.failures.count) gate\(refused.failures.count == 1 ? "" : "s")"
            + (forceRefused ? "" : " (override with --force --reason TEXT where the environment allows it)")
        if o.json {
            printJSON(["error": .string(summary), "exitCode": 1, "gates": .array(refused.failures.map(\.json))])
        } else {
            for line in refused.description.split(separator: "\n") { print(line) }
        }
        throw CheckFailed(message: summary)
    }
    if o.merge {
        do {
            p = try registry.merge(p, request: request)
        } catch {
            // Not merged: the branch goes, so a retry starts clean.
            registry.discardBranch(p)
            throw error
        }
    }
    var pushed: String?
    if let remote = o.pushRemote {
        // Merged here: main is what goes to the remote; otherwise the promotion branch, for review.
        let branch = p.merged != nil ? try registry.head().config().mainBranch : p.branch
        do {
            pushed = try registry.push(branch: branch, remote: remote)
        } catch {
            if p.merged != nil {
                throw RegistryError.invalidInput("merged into \(branch) here, but the push failed: \(error); push \(branch) again (git push \(remote) \(branch))")
            }
            registry.discardBranch(p)
            throw error
        }
    }
    if o.json {
        var out: [String: JSONValue] = [
            "title": .string(p.title), "body": .string(p.body), "branch": .string(p.branch), "commit": .string(p.commit.hex),
            "base": .string(p.base.hex), "model": .string(p.model), "version": .string(p.version), "environment": .string(p.environment),
            "kind": .string(p.kind.rawValue), "forced": .bool(p.forced),
            "previous": p.previous.map { .string(Registry.describe($0)) } ?? .null, "next": .string(Registry.describe(p.next)),
            "gates": .array(p.gates.map(\.json)),
            "merged": .bool(p.merged != nil),
        ]
        if let pushed { out["pushedTo"] = .string(pushed) }
        printJSON(.object(out))
        return
    }
    print("Created branch \(p.branch) (commit \(p.commit.short)) on \(p.base.short)")
    if let merged = p.merged { print("Merged into main (now \(merged.short)) and deleted the branch") }
    if let pushed { print("Pushed \(p.merged != nil ? try registry.head().config().mainBranch : p.branch) to \(pushed)") }
    print("\nPull request title:\n\(p.title)\n\nPull request body:\n\(p.body)", terminator: "")
}

extension RuleResult {
    /// `{"rule", "passed", "detail"}`, as promote and evaluate print gates.
    var json: JSONValue { ["rule": .string(rule), "passed": .bool(passed), "detail": .string(detail)] }
}
