import Foundation
import MregCore
import MregGit
import MregKubernetes

extension Registry {
    /// Most commits of main one `render --branch` catches up on; beyond, only main's tip.
    static let renderCatchUpLimit = 200

    /// Writes a render into `folder`: files whose text differs are replaced atomically, files an
    /// earlier render listed in its `kustomization.yaml` and this one has not are removed; nothing
    /// else there is touched. A folder whose `kustomization.yaml` mreg did not write is refused.
    public func renderToFolder(_ request: RenderRequest, folder: String) throws -> RenderReport {
        let (files, source) = try render(request)
        let fm = FileManager.default
        let previous = try previousRender(folder)
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var report = RenderReport(environment: request.environment, target: request.target.rawValue, source: source.hex,
                                  written: [], unchanged: [], removed: [], commits: [])
        for file in files {
            let path = folder + "/" + file.path
            let data = Data(file.text.utf8)
            if fm.contents(atPath: path) == data {
                report.unchanged.append(file.path)
                continue
            }
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            report.written.append(file.path)
        }
        let now = Set(files.map(\.path))
        for stale in previous.sorted() where !now.contains(stale) {
            let path = folder + "/" + stale
            guard let text = fm.contents(atPath: path).flatMap({ String(data: $0, encoding: .utf8) }),
                  text.hasPrefix(Registry.renderHeader) else { continue }
            try fm.removeItem(atPath: path)
            report.removed.append(stale)
        }
        return report
    }

    static let renderHeader = "# Rendered by `mreg render"

    /// The files the `kustomization.yaml` of an earlier render in `folder` lists; empty when there
    /// is none. One that mreg did not write is an error: the folder belongs to someone else.
    private func previousRender(_ folder: String) throws -> [String] {
        let path = folder + "/" + KubernetesRender.kustomizationFile
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        guard let text = String(data: data, encoding: .utf8), text.hasPrefix(Registry.renderHeader) else {
            throw RegistryError.invalidInput("'\(path)' was not written by mreg render; render into a folder of its own")
        }
        return Registry.listedResources(text)
    }

    /// The `resources:` of a kustomization.yaml mreg wrote (`- file.yaml` lines).
    static func listedResources(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("  - ") else { return nil }
            let name = String(line.dropFirst(4))
            return name.contains("/") || name.hasPrefix(".") ? nil : name
        }
    }

    /// Commits renders to `branch` under `folder` ("" for the root): one commit for each commit of
    /// main since the one the branch's tip renders (its `Mreg-Rendered-From` trailer) whose render
    /// differs, oldest first; nothing when nothing changed. The folder belongs to mreg: files there
    /// that the render has not are deleted. Without a local branch, a CI checkout's
    /// `REMOTE/BRANCH` is where it goes on from.
    public func renderToBranch(_ request: RenderRequest, branch: String, folder: String, remote: String = "origin") throws -> RenderReport {
        let ref = "refs/heads/" + branch
        guard Repository.isValidReferenceName(ref) else { throw RegistryError.invalidInput("'\(branch)' is not a valid branch name") }
        let mainName = try snapshotConfigName()
        guard branch != mainName else { throw RegistryError.invalidInput("render into a branch of its own, not the main branch '\(mainName)'") }
        let folderPrefix = try Registry.renderFolder(folder)
        var report = RenderReport(environment: request.environment, target: request.target.rawValue, source: "",
                                  written: [], unchanged: [], removed: [], commits: [])
        let tracking = "refs/remotes/\(remote)/\(branch)"
        for source in try renderSources(request, branchTip: try branchTip(ref, tracking)) {
            report.source = source.hex
            let files = try render(request, at: source)
            guard let landed = try commitRender(files, source: source, request: request, ref: ref, tracking: tracking, folder: folderPrefix)
            else { continue }
            report.commits.append(RenderCommit(commit: landed.commit.hex, source: source.hex))
            report.written = landed.written
            report.removed = landed.removed
        }
        return report
    }

    private func snapshotConfigName() throws -> String { try main().config().mainBranch }

    /// The local branch's tip, else the remote-tracking branch's; nil when neither exists.
    private func branchTip(_ ref: String, _ tracking: String) throws -> ObjectID? {
        if let local = try repository.referenceTarget(ref) { return local }
        return Repository.isValidReferenceName(tracking) ? try repository.referenceTarget(tracking) : nil
    }

    /// `folder` as a tree path prefix ("" or "a/b/"); `..`, absolute paths and `.git` are refused.
    static func renderFolder(_ folder: String) throws -> String {
        let parts = folder.split(separator: "/").map(String.init)
        guard parts.allSatisfy({ $0 != ".." && $0 != "." && $0 != ".git" && !$0.isEmpty }), !folder.hasPrefix("/") else {
            throw RegistryError.invalidInput("folder '\(folder)' must be a relative path without '.', '..' or '.git'")
        }
        return parts.isEmpty ? "" : parts.joined(separator: "/") + "/"
    }

    /// The commits of main to render, oldest first: those after the one the branch renders.
    private func renderSources(_ request: RenderRequest, branchTip: ObjectID?) throws -> [ObjectID] {
        if request.revision != nil { return [try render(request).source] }
        let tip = try main().commit
        guard let branchTip else { return [tip] }
        let message = try repository.commit(branchTip).message
        guard let last = Trailers(message: message)[Registry.renderedFromTrailer].flatMap({ ObjectID(hex: $0) }) else { return [tip] }
        var pending = [ObjectID]()
        var reached = false
        try changeIndex.walk(from: tip) { id, _ in
            if id == last { reached = true; return false }
            pending.append(id)
            return pending.count <= Registry.renderCatchUpLimit
        }
        // Main was rewritten past the rendered commit, or it is far behind: render the tip.
        guard reached else { return [tip] }
        return pending.reversed()
    }

    /// Commits one render when it changes the branch's folder; nil when it does not.
    private func commitRender(_ files: [RenderedFile], source: ObjectID, request: RenderRequest, ref: String, tracking: String,
                              folder: String) throws -> (commit: ObjectID, written: [String], removed: [String])? {
        let local = try repository.referenceTarget(ref)
        let parent = try local ?? branchTip(ref, tracking)
        let baseTree = try parent.map { try repository.treeID(ofCommit: $0) }
        var existing = [String: ObjectID]()
        if let baseTree {
            let folderTree = folder.isEmpty ? baseTree : try repository.entry(at: String(folder.dropLast()), inTree: baseTree).flatMap { $0.kind == .tree ? $0.id : nil }
            if let folderTree {
                for e in try repository.entries(ofTree: folderTree) where e.kind == .blob { existing[e.name] = e.id }
            }
        }
        var changes = [String: TreeChange]()
        var written = [String]()
        for file in files {
            let blob = try repository.writeBlob(Data(file.text.utf8))
            guard existing[file.path] != blob else { continue }
            changes[folder + file.path] = .blob(blob)
            written.append(file.path)
        }
        let now = Set(files.map(\.path))
        let removed = existing.keys.filter { !now.contains($0) }.sorted()
        for name in removed { changes[folder + name] = .delete }
        guard !changes.isEmpty else { return nil }
        let message = "Render \(request.environment) for \(request.target.rawValue) from \(source.short)\n\n\(Registry.renderedFromTrailer): \(source.hex)\n"
        let tree = try repository.writeTree(base: baseTree, changes: changes)
        let identity = try identity()
        let commit = try repository.createCommit(tree: tree, parents: parent.map { [$0] } ?? [], message: message,
                                                 author: identity.author, committer: identity.committer)
        try repository.moveBranch(ref, to: commit, expected: local, message: "mreg: render \(request.environment)")
        return (commit, written.sorted(), removed)
    }
}
