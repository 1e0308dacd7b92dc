import Foundation

/// Sum of gradients, hessians and rows falling in one bin.
struct HistogramBin {
    var g: Double
    var h: Double
    var n: Int
}

/// Grows one tree at a time over pre-binned data, reusing its buffers between trees.
final class TreeGrower {
    static let stride = 256
    let bins: [UInt8]
    let rows: Int
    let features: Int
    let binCounts: [Int]
    let thresholds: [[Double]]
    let options: GBDTModel.Options
    let minHessian = 1e-3
    var indices: [Int32]
    var scratch: [Int32]
    var orderedG: [Double]
    var orderedH: [Double]
    var pool: [UnsafeMutablePointer<HistogramBin>] = []
    var free: [Int] = []

    struct Split {
        var gain: Double
        var feature: Int
        var bin: Int
        var leftG: Double
        var leftH: Double
        var leftN: Int
    }

    struct Node {
        var start: Int
        var end: Int
        var depth: Int
        var g: Double
        var h: Double
        var histogram: Int
        var split: Split?
        var left = -1
        var right = -1
    }

    init(bins: [UInt8], rows: Int, binner: FeatureBinner, options: GBDTModel.Options) {
        self.bins = bins
        self.rows = rows
        self.features = binner.thresholds.count
        self.binCounts = binner.thresholds.map { $0.count + 1 }
        self.thresholds = binner.thresholds
        self.options = options
        indices = [Int32](repeating: 0, count: rows)
        scratch = indices
        orderedG = [Double](repeating: 0, count: rows)
        orderedH = orderedG
    }

    deinit {
        for p in pool { p.deallocate() }
    }

    func takeHistogram() -> Int {
        if let slot = free.popLast() { return slot }
        let p = UnsafeMutablePointer<HistogramBin>.allocate(capacity: max(1, features * Self.stride))
        pool.append(p)
        return pool.count - 1
    }

    func release(_ slot: Int) {
        if slot >= 0 { free.append(slot) }
    }

    /// Grows a tree on the given gradients, adds its leaf values to `raw[i * outputs + output]`, and returns it.
    func grow(gradients g: UnsafePointer<Double>, hessians h: UnsafePointer<Double>,
              output: Int, raw: inout [Double], outputs: Int) -> RegressionTree {
        indices.withUnsafeMutableBufferPointer { ib in
            for i in 0..<rows { ib[i] = Int32(i) }
        }
        var nodes = [Node]()
        let rootHistogram = takeHistogram()
        buildHistogram(rootHistogram, start: 0, end: rows, root: true, g: g, h: h)
        var rootG = 0.0, rootH = 0.0
        if features > 0 {
            let hist = pool[rootHistogram]
            for b in 0..<binCounts[0] {
                rootG += hist[b].g
                rootH += hist[b].h
            }
        } else {
            for i in 0..<rows {
                rootG += g[i]
                rootH += h[i]
            }
        }
        nodes.append(Node(start: 0, end: rows, depth: 0, g: rootG, h: rootH, histogram: rootHistogram))
        var candidates = [Int]()
        if splittable(nodes[0]) {
            nodes[0].split = findSplit(nodes[0])
        }
        if nodes[0].split != nil { candidates.append(0) } else { release(rootHistogram) }
        var leaves = 1
        let maxLeaves = options.maxLeafNodes

        while leaves < maxLeaves, !candidates.isEmpty {
            // Pick the node to split: best gain (leaf-wise) or shallowest (depth-wise); ties to the older node.
            var pick = 0
            for c in 1..<candidates.count {
                let a = nodes[candidates[c]], b = nodes[candidates[pick]]
                let better: Bool
                switch options.growth {
                case .leafwise: better = a.split!.gain > b.split!.gain
                case .depthwise: better = a.depth < b.depth
                }
                if better { pick = c }
            }
            let id = candidates.remove(at: pick)
            let parent = nodes[id]
            let split = parent.split!
            let middle = partition(start: parent.start, end: parent.end, feature: split.feature, bin: split.bin)
            let left = Node(start: parent.start, end: middle, depth: parent.depth + 1, g: split.leftG, h: split.leftH, histogram: -1)
            let right = Node(start: middle, end: parent.end, depth: parent.depth + 1,
                             g: parent.g - split.leftG, h: parent.h - split.leftH, histogram: -1)
            let leftID = nodes.count
            nodes.append(left)
            nodes.append(right)
            nodes[id].left = leftID
            nodes[id].right = leftID + 1
            leaves += 1

            let childDepthAllowed = options.maxDepth == 0 || parent.depth + 1 < options.maxDepth
            let leftOK = childDepthAllowed && splittable(left)
            let rightOK = childDepthAllowed && splittable(right)
            if leftOK || rightOK {
                // Build the smaller child's histogram; the larger one is the parent's minus it.
                let smallIsLeft = (middle - parent.start) <= (parent.end - middle)
                let small = smallIsLeft ? leftID : leftID + 1
                let large = smallIsLeft ? leftID + 1 : leftID
                let smallHistogram = takeHistogram()
                buildHistogram(smallHistogram, start: nodes[small].start, end: nodes[small].end, root: false,
                               g: g, h: h)
                subtract(parent: parent.histogram, child: smallHistogram)
                nodes[small].histogram = smallHistogram
                nodes[large].histogram = parent.histogram
                for child in [leftID, leftID + 1] {
                    let ok = child == leftID ? leftOK : rightOK
                    if ok { nodes[child].split = findSplit(nodes[child]) }
                    if nodes[child].split != nil {
                        candidates.append(child)
                    } else {
                        release(nodes[child].histogram)
                        nodes[child].histogram = -1
                    }
                }
                nodes[id].histogram = -1
            } else {
                release(parent.histogram)
                nodes[id].histogram = -1
            }
        }
        for c in candidates { release(nodes[c].histogram) }

        var tree = RegressionTree(
            output: output, feature: [], threshold: [], left: [], right: [], value: [])
        tree.feature.reserveCapacity(nodes.count)
        for node in nodes {
            if node.left >= 0, let split = node.split {
                tree.feature.append(Int32(split.feature))
                tree.threshold.append(thresholds[split.feature][split.bin])
                tree.left.append(Int32(node.left))
                tree.right.append(Int32(node.right))
                tree.value.append(0)
            } else {
                let value = -options.learningRate * node.g / (node.h + options.l2 + 1e-15)
                tree.feature.append(-1)
                tree.threshold.append(0)
                tree.left.append(0)
                tree.right.append(0)
                tree.value.append(value)
                indices.withUnsafeBufferPointer { ib in
                    raw.withUnsafeMutableBufferPointer { rb in
                        for k in node.start..<node.end { rb[Int(ib[k]) * outputs + output] += value }
                    }
                }
            }
        }
        return tree
    }

    func splittable(_ node: Node) -> Bool {
        node.end - node.start >= 2 * options.minSamplesLeaf && node.h >= 2 * minHessian
    }

    func buildHistogram(_ slot: Int, start: Int, end: Int, root: Bool, g: UnsafePointer<Double>, h: UnsafePointer<Double>) {
        let hist = pool[slot]
        hist.initialize(repeating: HistogramBin(g: 0, h: 0, n: 0), count: features * Self.stride)
        let m = end - start
        bins.withUnsafeBufferPointer { bb in
            indices.withUnsafeBufferPointer { ib in
                orderedG.withUnsafeMutableBufferPointer { ogb in
                    orderedH.withUnsafeMutableBufferPointer { ohb in
                        let og = ogb.baseAddress!, oh = ohb.baseAddress!
                        let idx = ib.baseAddress! + start
                        if !root {
                            for k in 0..<m {
                                let i = Int(idx[k])
                                og[k] = g[i]
                                oh[k] = h[i]
                            }
                        }
                        let work = HistogramWork(
                            bins: bb.baseAddress!, hist: hist, idx: idx, g: root ? g : UnsafePointer(og),
                            h: root ? h : UnsafePointer(oh), rows: rows, count: m, root: root, features: features)
                        let groups = (features + HistogramWork.group - 1) / HistogramWork.group
                        if m * features >= options.parallelThreshold && groups > 1 {
                            DispatchQueue.concurrentPerform(iterations: groups) { work.run(group: $0) }
                        } else {
                            for group in 0..<groups { work.run(group: group) }
                        }
                    }
                }
            }
        }
    }

    func subtract(parent: Int, child: Int) {
        let p = pool[parent], c = pool[child]
        for k in 0..<(features * Self.stride) {
            p[k].g -= c[k].g
            p[k].h -= c[k].h
            p[k].n -= c[k].n
        }
    }

    func findSplit(_ node: Node) -> Split? {
        let hist = pool[node.histogram]
        let l2 = options.l2
        let total = node.end - node.start
        let minLeaf = options.minSamplesLeaf
        let parentScore = node.g * node.g / (node.h + l2)
        var best: Split? = nil
        for f in 0..<features {
            let nb = binCounts[f]
            if nb < 2 { continue }
            let hf = hist + f * Self.stride
            var gl = 0.0, hl = 0.0, nl = 0
            for b in 0..<(nb - 1) {
                gl += hf[b].g
                hl += hf[b].h
                nl += hf[b].n
                if nl < minLeaf { continue }
                if total - nl < minLeaf { break }
                if hl < minHessian { continue }
                let hr = node.h - hl
                if hr < minHessian { break }
                let gr = node.g - gl
                let gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parentScore
                if gain > (best?.gain ?? 0) {
                    best = Split(gain: gain, feature: f, bin: b, leftG: gl, leftH: hl, leftN: nl)
                }
            }
        }
        return best
    }

    /// Stable partition of `indices[start..<end]` into rows with bin <= `bin` then the rest; returns the boundary.
    func partition(start: Int, end: Int, feature: Int, bin: Int) -> Int {
        let limit = UInt8(truncatingIfNeeded: bin)
        return bins.withUnsafeBufferPointer { bb in
            indices.withUnsafeMutableBufferPointer { ib in
                scratch.withUnsafeMutableBufferPointer { sb in
                    let column = bb.baseAddress! + feature * rows
                    var l = start
                    var r = 0
                    for k in start..<end {
                        let i = ib[k]
                        if column[Int(i)] <= limit {
                            ib[l] = i
                            l += 1
                        } else {
                            sb[r] = i
                            r += 1
                        }
                    }
                    for k in 0..<r { ib[l + k] = sb[k] }
                    return l
                }
            }
        }
    }
}

/// One histogram build, shareable across threads: each feature's bins are written by one thread only,
/// in row order, so the sums are the same however the features are scheduled.
///
/// Features go in groups of four per pass over the rows: four independent accumulation chains hide
/// the latency of updating the same bin twice in a row, and each row's index and gradients are read
/// once per group. A bin still sums its rows in row order, exactly as a one-feature loop would.
struct HistogramWork: @unchecked Sendable {
    static let group = 4
    let bins: UnsafePointer<UInt8>
    let hist: UnsafeMutablePointer<HistogramBin>
    let idx: UnsafePointer<Int32>
    let g: UnsafePointer<Double>
    let h: UnsafePointer<Double>
    let rows: Int
    let count: Int
    let root: Bool
    let features: Int

    func run(group: Int) {
        let first = group * Self.group
        if first + Self.group <= features {
            run4(first)
        } else {
            for f in first..<features { run1(f) }
        }
    }

    @inline(__always)
    func add(_ bin: UnsafeMutablePointer<HistogramBin>, _ gi: Double, _ hi: Double) {
        bin.pointee.g += gi
        bin.pointee.h += hi
        bin.pointee.n += 1
    }

    func run4(_ f: Int) {
        let c0 = bins + f * rows, c1 = c0 + rows, c2 = c1 + rows, c3 = c2 + rows
        let h0 = hist + f * TreeGrower.stride, h1 = h0 + TreeGrower.stride, h2 = h1 + TreeGrower.stride, h3 = h2 + TreeGrower.stride
        if root {
            for i in 0..<count {
                let gi = g[i], hi = h[i]
                add(h0 + Int(c0[i]), gi, hi)
                add(h1 + Int(c1[i]), gi, hi)
                add(h2 + Int(c2[i]), gi, hi)
                add(h3 + Int(c3[i]), gi, hi)
            }
        } else {
            for k in 0..<count {
                let i = Int(idx[k])
                let gi = g[k], hi = h[k]
                add(h0 + Int(c0[i]), gi, hi)
                add(h1 + Int(c1[i]), gi, hi)
                add(h2 + Int(c2[i]), gi, hi)
                add(h3 + Int(c3[i]), gi, hi)
            }
        }
    }

    func run1(_ f: Int) {
        let column = bins + f * rows
        let hf = hist + f * TreeGrower.stride
        if root {
            for i in 0..<count { add(hf + Int(column[i]), g[i], h[i]) }
        } else {
            for k in 0..<count { add(hf + Int(column[Int(idx[k])]), g[k], h[k]) }
        }
    }
}
