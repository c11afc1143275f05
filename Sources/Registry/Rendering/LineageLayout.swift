import Catalog

/// A layered drawing of a lineage graph, computed without I/O: roots (trained adapters) in the leftmost column,
/// every version one column right of its deepest parent (longest-path layering), edges that skip columns routed
/// through placeholder points, and the order within each column chosen by barycenter sweeps that reduce edge
/// crossings. The same graph always gives the same layout (every tie is broken by name, version and id).
///
/// Large graphs are bounded: at most `maxNodes` versions are placed, the start version and those nearest to it
/// first; ``omitted`` counts the rest.
public struct LineageLayout: Sendable, Equatable {
    /// Sizes in SVG user units (pixels at 100%).
    public struct Metrics: Sendable, Equatable {
        public var nodeWidth: Double = 212
        public var nodeHeight: Double = 60
        /// The height a placeholder point (an edge passing through a column) takes in its column.
        public var passHeight: Double = 22
        public var columnGap: Double = 150
        public var rowGap: Double = 18
        public var margin: Double = 20

        public init() {}
    }

    /// One placed version.
    public struct Box: Sendable, Equatable {
        public let node: LineageNode
        public let column: Int
        public let x: Double
        public let y: Double
    }

    /// One drawn parent → child connection: the merges that made it (usually one), and the points it passes.
    public struct Link: Sendable, Equatable {
        public let parentID: Int64
        public let childID: Int64
        /// Every recorded edge between the two versions (one per merge), by merge id.
        public let edges: [LineageEdge]
        /// Start (the parent's right side), placeholder points in the columns between, end (the child's left side).
        public let points: [Point]
    }

    public struct Point: Sendable, Equatable {
        public let x: Double
        public let y: Double
    }

    public let metrics: Metrics
    public let boxes: [Box]
    public let links: [Link]
    /// Versions of the graph left out to stay within the node limit.
    public let omitted: Int
    public let width: Double
    public let height: Double
    /// Edge crossings between adjacent columns in the chosen order.
    public let crossings: Int

    public init(nodes allNodes: [LineageNode], edges allEdges: [LineageEdge], start: Int64, maxNodes: Int = 40, metrics: Metrics = Metrics()) {
        self.metrics = metrics
        // 1. Bound the graph: the start, then the nearest versions, each once.
        var seen: Set<Int64> = []
        let unique = allNodes.filter { seen.insert($0.versionID).inserted }
        let ranked = unique.sorted { a, b in
            let ka = (a.versionID == start ? 0 : 1, a.depth), kb = (b.versionID == start ? 0 : 1, b.depth)
            if ka != kb { return ka < kb }
            return Self.precedes(a, b)
        }
        let kept = Array(ranked.prefix(max(1, maxNodes)))
        omitted = unique.count - kept.count
        let keptIDs = Set(kept.map(\.versionID))

        // Connections between kept versions, one per (parent, child), self-loops dropped.
        var grouped: [Pair: [LineageEdge]] = [:]
        for edge in allEdges where edge.parentID != edge.childID && keptIDs.contains(edge.parentID) && keptIDs.contains(edge.childID) {
            grouped[Pair(parent: edge.parentID, child: edge.childID), default: []].append(edge)
        }
        let pairs = grouped.keys.sorted { ($0.parent, $0.child) < ($1.parent, $1.child) }

        // 2. Longest-path layering. The catalog keeps lineage acyclic (fsck checks it); a cycle here would only
        // stop growing after `kept.count` rounds instead of looping.
        var column = Dictionary(kept.map { ($0.versionID, 0) }, uniquingKeysWith: { a, _ in a })
        for _ in 0..<kept.count {
            var changed = false
            for pair in pairs where column[pair.child]! < column[pair.parent]! + 1 && column[pair.parent]! + 1 < kept.count {
                column[pair.child] = column[pair.parent]! + 1
                changed = true
            }
            if !changed { break }
        }
        let columnCount = (column.values.max() ?? 0) + 1

        // 3. Slots: versions, and a placeholder per column an edge passes through.
        var slots: [Slot] = kept.map { Slot(id: .version($0.versionID), node: $0) }
        var chains: [Pair: [Int]] = [:]  // the slot indices a connection passes, parent first, child last
        let slotOfVersion = Dictionary(kept.enumerated().map { ($1.versionID, $0) }, uniquingKeysWith: { a, _ in a })
        var slotColumn = kept.map { column[$0.versionID]! }
        for pair in pairs {
            var chain = [slotOfVersion[pair.parent]!]
            let from = column[pair.parent]!, to = column[pair.child]!
            if from < to {
                for passing in (from + 1)..<to {
                    slots.append(Slot(id: .pass(pair.parent, pair.child, passing), node: nil))
                    slotColumn.append(passing)
                    chain.append(slots.count - 1)
                }
            }
            chain.append(slotOfVersion[pair.child]!)
            chains[pair] = chain
        }
        // Adjacent-column segments, for ordering and counting crossings; a back edge of a cycle is not a segment.
        var segments: [(upper: Int, lower: Int)] = []
        for pair in pairs {
            let chain = chains[pair]!
            for (a, b) in zip(chain, chain.dropFirst()) where slotColumn[b] == slotColumn[a] + 1 { segments.append((a, b)) }
        }
        var uppers = [[Int]](repeating: [], count: slots.count), lowers = [[Int]](repeating: [], count: slots.count)
        for segment in segments {
            lowers[segment.upper].append(segment.lower)
            uppers[segment.lower].append(segment.upper)
        }

        // 4. Order within columns: start by name, then barycenter sweeps right and left; keep the best order seen.
        var order = [[Int]](repeating: [], count: columnCount)
        for index in slots.indices { order[slotColumn[index]].append(index) }
        for c in order.indices { order[c].sort { Self.slotPrecedes(slots[$0], slots[$1]) } }
        var best = order
        var bestCrossings = Self.crossings(order, segments: segments, slotColumn: slotColumn)
        for sweep in 0..<8 where bestCrossings > 0 {
            let rightward = sweep % 2 == 0
            let columns: [Int] = rightward ? Array(stride(from: 1, to: columnCount, by: 1)) : Array(stride(from: columnCount - 2, through: 0, by: -1))
            for c in columns {
                var position: [Int: Int] = [:]
                for (p, slot) in order[rightward ? c - 1 : c + 1].enumerated() { position[slot] = p }
                let current = Dictionary(order[c].enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
                func center(_ slot: Int) -> Double {
                    let neighbours = (rightward ? uppers[slot] : lowers[slot]).compactMap { position[$0] }
                    guard !neighbours.isEmpty else { return Double(current[slot]!) }
                    return Double(neighbours.reduce(0, +)) / Double(neighbours.count)
                }
                order[c].sort { a, b in
                    let ca = center(a), cb = center(b)
                    if ca != cb { return ca < cb }
                    return current[a]! < current[b]!
                }
            }
            let count = Self.crossings(order, segments: segments, slotColumn: slotColumn)
            if count < bestCrossings {
                best = order
                bestCrossings = count
            }
        }
        order = best
        crossings = bestCrossings

        // 5. Coordinates: columns left to right, each column's slots stacked and centred vertically.
        func slotHeight(_ slot: Int) -> Double { slots[slot].node == nil ? metrics.passHeight : metrics.nodeHeight }
        let columnHeights = order.map { column in column.map(slotHeight).reduce(0, +) + Double(max(0, column.count - 1)) * metrics.rowGap }
        let tallest = columnHeights.max() ?? metrics.nodeHeight
        var top = [Double](repeating: 0, count: slots.count)
        for (c, slotsInColumn) in order.enumerated() {
            var y = metrics.margin + (tallest - columnHeights[c]) / 2
            for slot in slotsInColumn {
                top[slot] = y
                y += slotHeight(slot) + metrics.rowGap
            }
        }
        func left(_ c: Int) -> Double { metrics.margin + Double(c) * (metrics.nodeWidth + metrics.columnGap) }
        var boxes: [Box] = []
        for c in order.indices {
            for slot in order[c] {
                if let node = slots[slot].node { boxes.append(Box(node: node, column: c, x: left(c), y: top[slot])) }
            }
        }
        self.boxes = boxes

        // 6. Links: leave the parent's right side and enter the child's left side at ports spread by the other
        // end's height, so that edges meeting at one version (and their labels) stay apart.
        var outgoing: [Int64: [Pair]] = [:], incoming: [Int64: [Pair]] = [:]
        for pair in pairs {
            outgoing[pair.parent, default: []].append(pair)
            incoming[pair.child, default: []].append(pair)
        }
        func centreY(_ slot: Int) -> Double { top[slot] + slotHeight(slot) / 2 }
        func port(_ pair: Pair, among group: [Pair], at version: Int64, otherEnd: (Pair) -> Int) -> Double {
            let sorted = group.sorted { (centreY(otherEnd($0)), $0.parent, $0.child) < (centreY(otherEnd($1)), $1.parent, $1.child) }
            let index = sorted.firstIndex(of: pair) ?? 0
            let slot = slotOfVersion[version]!
            let usable = metrics.nodeHeight * 0.7
            let step = sorted.count > 1 ? usable / Double(sorted.count - 1) : 0
            return sorted.count > 1 ? top[slot] + (metrics.nodeHeight - usable) / 2 + step * Double(index) : centreY(slot)
        }
        links = pairs.map { pair in
            let chain = chains[pair]!
            var points: [Point] = []
            let startY = port(pair, among: outgoing[pair.parent]!, at: pair.parent) { chains[$0]![1] }
            points.append(Point(x: left(slotColumn[chain[0]]) + metrics.nodeWidth, y: startY))
            for slot in chain.dropFirst().dropLast() {
                points.append(Point(x: left(slotColumn[slot]) + metrics.nodeWidth / 2, y: centreY(slot)))
            }
            let endY = port(pair, among: incoming[pair.child]!, at: pair.child) { chains[$0]![chains[$0]!.count - 2] }
            points.append(Point(x: left(slotColumn[chain.last!]), y: endY))
            return Link(parentID: pair.parent, childID: pair.child, edges: grouped[pair]!.sorted { $0.mergeID < $1.mergeID }, points: points)
        }
        width = metrics.margin * 2 + Double(columnCount) * metrics.nodeWidth + Double(columnCount - 1) * metrics.columnGap
        height = metrics.margin * 2 + tallest
    }

    /// The number of pairs of adjacent-column segments that cross in `order`.
    static func crossings(_ order: [[Int]], segments: [(upper: Int, lower: Int)], slotColumn: [Int]) -> Int {
        var position: [Int: Int] = [:]
        for column in order { for (p, slot) in column.enumerated() { position[slot] = p } }
        var byColumn: [Int: [(Int, Int)]] = [:]
        for segment in segments { byColumn[slotColumn[segment.upper], default: []].append((position[segment.upper]!, position[segment.lower]!)) }
        var count = 0
        for (_, list) in byColumn {
            for i in list.indices {
                for j in list.indices where j > i {
                    let (a, b) = (list[i], list[j])
                    if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) { count += 1 }
                }
            }
        }
        return count
    }

    static func precedes(_ a: LineageNode, _ b: LineageNode) -> Bool {
        (a.name, a.version, a.versionID) < (b.name, b.version, b.versionID)
    }

    static func slotPrecedes(_ a: Slot, _ b: Slot) -> Bool {
        switch (a.node, b.node) {
        case let (x?, y?): return precedes(x, y)
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a.id.sortKey.lexicographicallyPrecedes(b.id.sortKey)
        }
    }

    struct Pair: Hashable {
        let parent: Int64
        let child: Int64
    }

    struct Slot {
        enum ID {
            case version(Int64)
            case pass(Int64, Int64, Int)
            var sortKey: [Int64] {
                switch self {
                case .version(let id): [id]
                case .pass(let parent, let child, let column): [parent, child, Int64(column)]
                }
            }
        }
        let id: ID
        let node: LineageNode?
    }
}
