import Catalog

/// The rule for promoting a merged version to a protected alias: the merge must be at least as good as each
/// parent on every (suite, metric) that parent was evaluated on. A merge that loses a skill has failed.
public enum PromotionRule {
    /// A reason the candidate may not be promoted.
    public struct Shortfall: Hashable, Sendable, CustomStringConvertible {
        public let parent: String
        public let suite: String
        public let metric: String
        public let parentValue: Double
        /// nil when the candidate has no evaluation on that suite and metric.
        public let candidateValue: Double?

        public var description: String {
            guard let candidateValue else {
                return "no evaluation of \(suite)/\(metric), which \(parent) scored \(parentValue)"
            }
            return "\(suite)/\(metric) is \(candidateValue), worse than \(parent)'s \(parentValue)"
        }
    }

    /// Why `candidate` may not become `alias`, as sentences; empty when it may. Only a protected alias is guarded,
    /// and only against merged versions (a trained adapter has no parents to be compared with): the merge must have
    /// evaluations, and be at least as good as each parent on every (suite, metric) that parent was evaluated on.
    public static func refusals(
        candidate label: String, kind: VersionKind, aliasIsProtected: Bool, evaluations own: [Evaluation],
        parents: [(label: String, evaluations: [Evaluation])]
    ) -> [String] {
        guard aliasIsProtected, kind == .merged else { return [] }
        guard !own.isEmpty else { return ["\(label) has no recorded evaluations"] }
        return shortfalls(candidate: own, parents: parents).map(\.description)
    }

    /// Every shortfall of `candidate` against `parents` (label, evaluations); empty means promotion is allowed.
    /// Evaluations are taken in recording order, so the last one for a (suite, metric) counts.
    public static func shortfalls(candidate: [Evaluation], parents: [(label: String, evaluations: [Evaluation])]) -> [Shortfall] {
        let mine = latest(candidate)
        var result: [Shortfall] = []
        for parent in parents {
            for (key, theirs) in latest(parent.evaluations).sorted(by: { $0.key < $1.key }) {
                guard let own = mine[key] else {
                    result.append(Shortfall(parent: parent.label, suite: key.suite, metric: key.metric,
                                            parentValue: theirs.value, candidateValue: nil))
                    continue
                }
                let atLeastAsGood = theirs.higherIsBetter ? own.value >= theirs.value : own.value <= theirs.value
                if !atLeastAsGood {
                    result.append(Shortfall(parent: parent.label, suite: key.suite, metric: key.metric,
                                            parentValue: theirs.value, candidateValue: own.value))
                }
            }
        }
        return result
    }

    private struct Key: Hashable, Comparable {
        let suite: String
        let metric: String
        static func < (a: Key, b: Key) -> Bool { (a.suite, a.metric) < (b.suite, b.metric) }
    }

    private static func latest(_ evaluations: [Evaluation]) -> [Key: Evaluation] {
        var map: [Key: Evaluation] = [:]
        for evaluation in evaluations { map[Key(suite: evaluation.suite, metric: evaluation.metric)] = evaluation }
        return map
    }
}
