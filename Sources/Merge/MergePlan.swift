/// The modules a merge will produce and which inputs take part in each, decided before any arithmetic.
public struct MergePlan: Sendable, Equatable {
    /// The request with defaults resolved (weights filled in).
    public let request: MergeRequest
    public let modules: [PlannedModule]
}

/// One output module: its shape, the inputs that have it (PEFT's rule), and the rank it will have.
public struct PlannedModule: Sendable, Equatable {
    public let path: String
    public let inFeatures: Int
    public let outFeatures: Int
    /// Indices of the inputs that adapt this module, in input order.
    public let inputs: [Int]
    public let outputRank: Int
}
