import Foundation
import MregCore
import MregGit
import MregML

/// One step of a pipeline run, as reported and recorded.
public struct PipelineStep {
    public enum Status: String { case ran, cached, skipped, failed }
    public var name: String
    public var status: Status
    /// The hash of the step's inputs.
    public var key: String?
    /// One line for people.
    public var summary: String
    /// What the step produced, recorded in the registered version.
    public var outputs: JSONValue

    var json: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name), "summary": .string(summary), "outputs": outputs]
        if let key { o["key"] = .string(key) }
        return .object(o)
    }
}

/// What `mreg pipeline run` did.
public struct PipelineRun {
    public var name: String
    public var steps: [PipelineStep] = []
    public var registration: Registration?
    public var promotion: Promotion?
    /// The gate's verdict; nil when the run stopped before it.
    public var gate: [RuleResult]?
    /// An earlier run with the same inputs already did the work.
    public var unchanged = false
    public var passed: Bool { gate?.allSatisfy(\.passed) ?? true }
}

extension Registry {
    /// Runs a pipeline file: data (with its expected schema) -> split -> train -> evaluate on the
    /// holdout -> gate -> register -> promote. Steps are keyed by the hash of their inputs; a rerun
    /// with unchanged inputs finds the version an earlier run registered and does no work. A failing
    /// gate registers nothing (unless `register.keepRejected`) and promotes nothing.
    public func runPipeline(file: String, data override: String?, dryRun: Bool) throws -> PipelineRun {
        let fileData: Data
        do { fileData = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            throw RegistryError.invalidInput("cannot read pipeline file '\(file)'")
        }
        let spec = try PipelineSpec.parse(String(decoding: fileData, as: UTF8.self), file: (file as NSString).lastPathComponent)
        let fileSHA = SHA256.hex(fileData)
        var run = PipelineRun(name: spec.name)
        let snap = try head()
        let config = try snap.config()
        if let p = spec.promote {
            guard config.environment(p.environment) != nil else {
                throw RegistryError.unknownEnvironment(p.environment, known: config.environments.map(\.name))
            }
            if p.merge && config.environments.last?.name == p.environment {
                throw RegistryError.invalidInput("\(file): promote.merge is refused for '\(p.environment)', the last environment: it goes through a pull request")
            }
        }

        // data
        guard let dataPath = override ?? spec.data.path.map({ path in
            path.hasPrefix("/") ? path : ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
        }) else { throw RegistryError.invalidInput("no data: give --data CSV or data.path in \(file)") }
        let (bytes, table) = try Registry.readTable(dataPath)
        let dataKey = SHA256.hex(bytes)
        try Registry.checkSchema(spec, table: table, source: (dataPath as NSString).lastPathComponent)
        run.steps.append(PipelineStep(
            name: "data", status: .ran, key: dataKey,
            summary: "\(dataPath): sha256 \(dataKey.prefix(12))…, \(table.rowCount) rows, \(table.columnNames.count) columns"
                + (spec.data.schema.isEmpty ? "" : ", schema ok"),
            outputs: ["path": .string(dataPath), "sha256": .string(dataKey), "rows": .number(Double(table.rowCount)),
                      "columns": .array(table.columnNames.map(JSONValue.string))]))

        // split
        let (trainTable, holdoutTable, splitSizes) = try Registry.holdoutSplit(table, spec: spec)
        let splitKey = SHA256.hex(Data("split|\(dataKey)|\(JSONValue.format(spec.split.holdout))|\(spec.split.seed)".utf8))
        run.steps.append(PipelineStep(
            name: "split", status: .ran, key: splitKey,
            summary: "\(splitSizes.0) rows to train, \(splitSizes.1) held out (seed \(spec.split.seed))",
            outputs: ["train": .number(Double(splitSizes.0)), "holdout": .number(Double(splitSizes.1)),
                      "holdoutShare": .number(spec.split.holdout), "seed": .number(Double(spec.split.seed))]))

        let trainInputs: JSONValue = [
            "split": .string(splitKey), "target": .string(spec.data.target), "algorithm": spec.train.algorithm.map(JSONValue.string) ?? .null,
            "task": spec.train.task.map(JSONValue.string) ?? .null, "params": .object(spec.train.params.mapValues(JSONValue.string)),
            "space": .object(spec.train.space.mapValues { .array($0.map(JSONValue.string)) }),
            "trials": .number(Double(spec.train.trials)), "seed": .number(Double(spec.train.seed)),
            "schema": .array(spec.data.schema.map { .string("\($0.name):\($0.type)") }), "mreg": .string(mregVersion),
        ]
        let trainKey = SHA256.hex(trainInputs.encoded())
        let gateKey = SHA256.hex(Data("gate|\(trainKey)|".utf8) + JSONValue.array(spec.gate.map { r in
            .object(["metric": .string(r.metric), "min": r.min.map(JSONValue.number) ?? .null, "max": r.max.map(JSONValue.number) ?? .null])
        }).encoded())

        // An earlier run may have registered this very training: then train, evaluate and register
        // are done; the gate is judged again on the recorded holdout metrics (it may have changed).
        let earlier = try versionFromPipeline(model: spec.model, trainKey: trainKey, snap: snap)
        if dryRun {
            // Every usable column but the target: the schema declares types, it does not pick features.
            let features = try trainingFeatures(TrainRequest(
                table: trainTable, source: (dataPath as NSString).lastPathComponent, target: spec.data.target,
                params: [:], featureTypes: Registry.schemaTypes(spec)))
            run.steps.append(PipelineStep(
                name: "features", status: .ran, key: nil,
                summary: "\(features.count) features: " + features.map { "\($0.name) (\($0.type.rawValue))" }.joined(separator: ", "),
                outputs: .array(features.map { ["name": .string($0.name), "type": .string($0.type.rawValue)] })))
            let cached = loadPipelineCache(trainKey) != nil
            run.steps.append(PipelineStep(name: "train", status: .skipped, key: trainKey,
                                          summary: earlier.map { "unchanged inputs: \(spec.model)@\($0) was trained by an earlier run" }
                                              ?? "would train \(spec.train.algorithm ?? "the default algorithm") with \(spec.train.trials) trial(s)"
                                              + (cached ? " (cached)" : ""), outputs: .null))
            for step in ["evaluate", "gate", "register"] + (spec.promote != nil ? ["promote"] : []) {
                run.steps.append(PipelineStep(name: step, status: .skipped, key: nil, summary: "dry run", outputs: .null))
            }
            return run
        }

        // train (or its cached result)
        if let earlier {
            let holdout = try snap.metrics(spec.model, earlier)?.splits["holdout"] ?? [:]
            let task = try snap.versionRecord(spec.model, earlier).task
            run.steps.append(PipelineStep(name: "train", status: .cached, key: trainKey,
                                          summary: "unchanged inputs: \(spec.model)@\(earlier) was trained by an earlier run", outputs: .null))
            run.steps.append(PipelineStep(name: "evaluate", status: .cached, key: trainKey,
                                          summary: "holdout: " + Registry.headline(holdout), outputs: .object(holdout.mapValues(JSONValue.number))))
            let results = Gates(metrics: spec.gate).check(GateInput(task: task, metrics: holdout))
            run.gate = results
            run.steps.append(Registry.gateStep(results, key: gateKey))
            run.steps.append(PipelineStep(name: "register", status: .skipped, key: trainKey,
                                          summary: "already registered as \(spec.model)@\(earlier)", outputs: .null))
            if results.allSatisfy(\.passed), let p = spec.promote {
                let served = try self.main().manifest(p.environment)?.models[spec.model]
                let pending = try pendingPromotion(spec.model, earlier, p.environment)
                if served?.version == earlier || served?.canary?.version == earlier || pending {
                    run.steps.append(PipelineStep(name: "promote", status: .skipped, key: nil,
                                                  summary: "\(p.environment) already serves or has a pending promotion of \(earlier)", outputs: .null))
                } else {
                    run.steps.append(try runPromote(p, model: spec.model, version: earlier, pipeline: spec.name, mainBranch: config.mainBranch, run: &run))
                }
            }
            run.unchanged = run.steps.allSatisfy { $0.status != .ran || $0.name == "data" || $0.name == "split" || $0.name == "gate" }
            return run
        }
        let trained: TrainedCandidate
        if let cached = loadPipelineCache(trainKey) {
            trained = cached
            run.steps.append(PipelineStep(name: "train", status: .cached, key: trainKey,
                                          summary: "unchanged inputs: reusing the model trained by an earlier run", outputs: trained.trainOutputs))
        } else {
            let started = Date()
            var request = TrainRequest(
                table: trainTable, source: (dataPath as NSString).lastPathComponent, target: spec.data.target,
                task: spec.train.task.flatMap(MregML.Task.init(rawValue:)),
                algorithm: try spec.train.algorithm.map { a in
                    guard let alg = Algorithm(rawValue: a) else { throw RegistryError.invalidInput("\(file): field 'train.algorithm' '\(a)' is not one of \(Algorithm.allCases.map(\.rawValue).joined(separator: ", "))") }
                    return alg
                }, params: spec.train.params, trials: spec.train.trials, holdout: 0.2, seed: spec.train.seed,
                featureTypes: Registry.schemaTypes(spec))
            request.space = spec.train.space
            let outcome = try MregML.train(request)
            let evaluation = try MregML.evaluate(outcome.model, on: holdoutTable)
            trained = TrainedCandidate(outcome: outcome, holdout: evaluation.metrics, seconds: Date().timeIntervalSince(started))
            savePipelineCache(trainKey, trained)
            run.steps.append(PipelineStep(name: "train", status: .ran, key: trainKey,
                                          summary: "\(trained.algorithm), \(trained.trials.count) trial(s), best #\(trained.bestTrial + 1) in \(String(format: "%.2f", trained.seconds)) s",
                                          outputs: trained.trainOutputs))
        }

        // evaluate
        run.steps.append(PipelineStep(
            name: "evaluate", status: .ran, key: trainKey,
            summary: "holdout (\(splitSizes.1) rows): " + Registry.headline(trained.holdout),
            outputs: .object(trained.holdout.mapValues(JSONValue.number))))

        // gate
        let results = Gates(metrics: spec.gate).check(GateInput(task: trained.task, metrics: trained.holdout))
        run.gate = results
        let gatePassed = results.allSatisfy(\.passed)
        run.steps.append(Registry.gateStep(results, key: gateKey))
        if !gatePassed && !spec.register.keepRejected {
            run.steps.append(PipelineStep(name: "register", status: .skipped, key: nil, summary: "gate failed: nothing registered", outputs: .null))
            return run
        }

        // register
        let pipelineRecord: ([PipelineStep]) -> JSONValue = { steps in
            [
                "name": .string(spec.name), "file": .string(file), "sha256": .string(fileSHA), "trainKey": .string(trainKey),
                "status": .string(gatePassed ? "accepted" : "rejected"), "steps": .array(steps.map(\.json)),
            ]
        }
        var metrics = trained.metrics
        metrics["holdout"] = trained.holdout
        let content = VersionContent(
            files: ["model.json": trained.artifact.encoded(), "baseline.json": trained.baseline.encoded(pretty: true)],
            metrics: MetricsFile(splits: metrics))
        var modelSpec = try snap.modelSpecIfPresent(spec.model) ?? ModelSpec(name: spec.model)
        modelSpec.task = trained.task
        modelSpec.target = spec.data.target
        if modelSpec.features.isEmpty {
            modelSpec.features = trained.features
        }
        let steps = run.steps
        let registration = try register(model: spec.model, content: content, modelSpec: modelSpec,
                                        message: spec.register.message ?? "pipeline \(spec.name)") { record in
            record.source = VersionSource(kind: "pipeline", command: "mreg pipeline run \(file)" + (override.map { " --data \($0)" } ?? ""),
                                          message: spec.register.message, trainer: "mreg-\(trained.algorithm)",
                                          trainerVersion: mregVersion)
            record.task = trained.task
            record.algorithm = trained.algorithm
            record.target = spec.data.target
            record.seed = spec.train.seed
            record.params = .object(trained.params)
            record.split = ["holdout": .number(spec.split.holdout), "pipelineHoldoutRows": .number(Double(splitSizes.1)),
                            "train": .number(Double(trained.splitSizes["train"] ?? 0)),
                            "validation": .number(Double(trained.splitSizes["validation"] ?? 0)),
                            "test": .number(Double(trained.splitSizes["test"] ?? 0))]
            record.data = [DataFingerprint(role: "train", path: dataPath, sha256: dataKey, rows: table.rowCount, columns: table.columnNames)]
            if trained.trials.count > 1 {
                record.trials = trained.trials
                record.bestTrial = trained.bestTrial
            }
            record.pipeline = pipelineRecord(steps + [PipelineStep(name: "register", status: .ran, key: trainKey,
                                                                   summary: "registered", outputs: .null)])
        }
        run.registration = registration
        run.steps.append(PipelineStep(name: "register", status: .ran, key: trainKey,
                                      summary: "\(spec.model)@\(registration.version)\(gatePassed ? "" : " (rejected: kept for the record, never promoted)") (commit \(registration.commit.short))",
                                      outputs: ["version": .string(registration.version), "commit": .string(registration.commit.hex)]))
        guard gatePassed else { return run }

        // promote
        if let p = spec.promote {
            run.steps.append(try runPromote(p, model: spec.model, version: registration.version, pipeline: spec.name,
                                            mainBranch: config.mainBranch, run: &run))
        }
        return run
    }

    /// Opens the promotion the file asks for: a branch and a pull-request body; merged or pushed as told.
    private func runPromote(_ p: PipelineSpec.PromoteStep, model: String, version: String, pipeline: String, mainBranch: String,
                            run: inout PipelineRun) throws -> PipelineStep {
        var request = PromotionRequest(model: model, version: version, environment: p.environment)
        request.canary = p.canary
        request.message = "Proposed by pipeline \(pipeline)"
        var promotion = try promote(request)
        if p.merge { promotion = try merge(promotion, request: request) }
        var where_ = "branch \(promotion.branch)"
        if let remote = p.push { where_ += ", pushed to " + (try push(branch: promotion.merged != nil ? mainBranch : promotion.branch, remote: remote)) }
        if promotion.merged != nil { where_ += ", merged into \(mainBranch)" }
        run.promotion = promotion
        return PipelineStep(name: "promote", status: .ran, key: nil, summary: "\(promotion.title): \(where_)",
                            outputs: ["branch": .string(promotion.branch), "commit": .string(promotion.commit.hex)])
    }

    /// True when an unmerged promotion branch for this version and environment exists.
    private func pendingPromotion(_ model: String, _ version: String, _ environment: String) throws -> Bool {
        let prefix = "refs/heads/promote/\(model)-\(version)-\(environment)"
        return try repository.referenceNames(prefix: "refs/heads/promote/").contains { $0 == prefix || $0.hasPrefix(prefix + "-canary") }
    }

    static func gateStep(_ results: [RuleResult], key: String) -> PipelineStep {
        PipelineStep(
            name: "gate", status: results.allSatisfy(\.passed) ? .ran : .failed, key: key,
            summary: results.isEmpty ? "no rules" : results.map { "\($0.passed ? "pass" : "FAIL") \($0.detail)" }.joined(separator: "; "),
            outputs: .array(results.map(Reports.ruleJSON)))
    }

    static func headline(_ metrics: [String: Double]) -> String {
        let keys = ["accuracy", "f1_macro", "roc_auc", "r2", "rmse", "mae"].filter { metrics[$0] != nil }
        return keys.isEmpty ? "no metrics" : keys.map { "\($0) \(Reports.num(metrics[$0]!))" }.joined(separator: ", ")
    }

    /// The feature types a pipeline's schema declares (the target aside).
    static func schemaTypes(_ spec: PipelineSpec) -> [String: FeatureType] {
        var out = [String: FeatureType]()
        for column in spec.data.schema where column.name != spec.data.target {
            out[column.name] = FeatureType(rawValue: column.type) ?? .numeric
        }
        return out
    }

    /// Expected columns exist and numeric ones hold numbers; with `allowExtraColumns: false` no others.
    static func checkSchema(_ spec: PipelineSpec, table: Table, source: String) throws {
        guard table.columnIndex(spec.data.target) != nil else {
            throw RegistryError.invalidInput("\(source): no target column '\(spec.data.target)'")
        }
        for column in spec.data.schema {
            guard table.columnIndex(column.name) != nil else {
                throw RegistryError.invalidInput("\(source): expected column '\(column.name)' is missing")
            }
            if column.type == "numeric", table.numericColumn(column.name) == nil {
                throw RegistryError.invalidInput("\(source): column '\(column.name)' should be numeric but holds text")
            }
        }
        if !spec.data.schema.isEmpty && !spec.data.allowExtraColumns {
            let known = Set(spec.data.schema.map(\.name))
            if let extra = table.columnNames.first(where: { !known.contains($0) }) {
                throw RegistryError.invalidInput("\(source): column '\(extra)' is not in the pipeline's schema")
            }
        }
    }

    /// Splits rows into training and holdout by seed, stratified by the target for classification.
    static func holdoutSplit(_ table: Table, spec: PipelineSpec) throws -> (Table, Table, (Int, Int)) {
        let target = table.column(spec.data.target) ?? []
        var strata: [Int]?
        let regression = spec.train.task == "regression"
            || (spec.train.task == nil && table.numericColumn(spec.data.target) != nil && Set(target.compactMap { $0 }).count > 20)
        if !regression {
            var index = [String: Int]()
            strata = target.map { value in
                guard let value else { return -1 }
                if let i = index[value] { return i }
                index[value] = index.count
                return index.count - 1
            }
        }
        let split = DataSplit.make(count: table.rowCount, holdout: spec.split.holdout, seed: spec.split.seed, strata: strata)
        let trainRows = (split.train + split.validation).sorted()
        let columns = table.columnNames.map { table.column($0) ?? [] }
        func sub(_ rows: [Int], _ suffix: String) throws -> Table {
            try Table(columnNames: table.columnNames, rows: rows.map { r in columns.map { $0[r] } }, source: table.source + suffix)
        }
        return (try sub(trainRows, ""), try sub(split.test, " (holdout)"), (trainRows.count, split.test.count))
    }

    /// A version whose pipeline record has this training key, newest first among the last 100.
    func versionFromPipeline(model: String, trainKey: String, snap: Snapshot) throws -> String? {
        for version in try snap.versionNames(model).reversed().prefix(100) {
            if let record = try? snap.versionRecord(model, version), record.pipeline?["trainKey"]?.stringValue == trainKey {
                return version
            }
        }
        return nil
    }

    /// A trained model and its holdout metrics, as the train and evaluate steps leave them.
    struct TrainedCandidate {
        var artifact: JSONValue
        var baseline: JSONValue
        var metrics: [String: [String: Double]]
        var params: [String: JSONValue]
        var trials: [TrialSummary]
        var bestTrial: Int
        var splitSizes: [String: Int]
        var task: String
        var algorithm: String
        var features: [FeatureDeclaration]
        var holdout: [String: Double]
        var seconds: Double

        init(outcome o: TrainOutcome, holdout: [String: Double], seconds: Double) {
            artifact = o.artifact
            baseline = o.baseline
            metrics = o.metrics
            params = o.params
            trials = o.trials.map { TrialSummary(params: .object($0.params), metrics: $0.validationMetrics, seconds: $0.seconds) }
            bestTrial = o.bestTrial
            splitSizes = o.splitSizes
            task = o.task.rawValue
            algorithm = o.algorithm.rawValue
            features = o.features.map { FeatureDeclaration(name: $0.name, type: $0.type.rawValue) }
            self.holdout = holdout
            self.seconds = seconds
        }

        init?(json s: JSONValue, artifact: JSONValue) {
            func numbers(_ v: JSONValue?) -> [String: Double] { (v?.objectValue ?? [:]).compactMapValues(\.doubleValue) }
            guard let task = s["task"]?.stringValue, let algorithm = s["algorithm"]?.stringValue, let baseline = s["baseline"] else { return nil }
            self.artifact = artifact
            self.baseline = baseline
            metrics = (s["metrics"]?.objectValue ?? [:]).mapValues(numbers)
            params = s["params"]?.objectValue ?? [:]
            trials = (s["trials"]?.arrayValue ?? []).map {
                TrialSummary(params: $0["params"] ?? .object([:]), metrics: numbers($0["metrics"]), seconds: $0["seconds"]?.doubleValue ?? 0)
            }
            bestTrial = s["bestTrial"]?.intValue ?? 0
            splitSizes = (s["splitSizes"]?.objectValue ?? [:]).compactMapValues(\.intValue)
            self.task = task
            self.algorithm = algorithm
            features = (s["features"]?.arrayValue ?? []).compactMap { f in
                guard let n = f["name"]?.stringValue, let t = f["type"]?.stringValue else { return nil }
                return FeatureDeclaration(name: n, type: t)
            }
            holdout = numbers(s["holdout"])
            seconds = s["seconds"]?.doubleValue ?? 0
        }

        var json: JSONValue {
            [
                "holdout": .object(holdout.mapValues(JSONValue.number)), "seconds": .number(seconds),
                "metrics": .object(metrics.mapValues { .object($0.mapValues(JSONValue.number)) }),
                "baseline": baseline, "params": .object(params), "bestTrial": .number(Double(bestTrial)),
                "trials": .array(trials.map { ["params": $0.params, "metrics": .object($0.metrics.mapValues(JSONValue.number)), "seconds": .number($0.seconds)] }),
                "splitSizes": .object(splitSizes.mapValues { .number(Double($0)) }), "task": .string(task), "algorithm": .string(algorithm),
                "features": .array(features.map { ["name": .string($0.name), "type": .string($0.type)] }),
            ]
        }

        var trainOutputs: JSONValue {
            ["algorithm": .string(algorithm), "params": .object(params),
             "trials": .number(Double(trials.count)), "bestTrial": .number(Double(bestTrial)),
             "modelSha256": .string(SHA256.hex(artifact.encoded())),
             "validation": .object((metrics["validation"] ?? [:]).mapValues(JSONValue.number))]
        }
    }

    private func pipelineCacheDir(_ key: String) -> String { repository.gitDir + "mreg/pipeline/" + key }

    /// Keeps a trained candidate under `<git dir>/mreg/pipeline/KEY/`, so a rerun after a failure later
    /// in the pipeline (a failed gate, a lost race, a push error) does not train again. Best effort.
    private func savePipelineCache(_ key: String, _ c: TrainedCandidate) {
        let dir = pipelineCacheDir(key)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/model.json", contents: c.artifact.encoded())
        FileManager.default.createFile(atPath: dir + "/summary.json", contents: c.json.encoded())
    }

    private func loadPipelineCache(_ key: String) -> TrainedCandidate? {
        let dir = pipelineCacheDir(key)
        guard let modelData = FileManager.default.contents(atPath: dir + "/model.json"),
            let summaryData = FileManager.default.contents(atPath: dir + "/summary.json"),
            let summary = try? JSONValue.parse(summaryData), let artifact = try? JSONValue.parse(modelData),
            (try? Model(artifact: artifact)) != nil
        else { return nil }
        return TrainedCandidate(json: summary, artifact: artifact)
    }
}
