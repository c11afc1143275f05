/// What the compatibility rules need to know about one input adapter: metadata only, no tensors.
public struct MergeInputDescriptor: Sendable, Equatable {
    /// How the input is named in errors (a directory, or `name@version` in the registry).
    public var name: String
    public var baseModel: String?
    public var revision: String?
    public var useDora: Bool
    public var modulesToSave: [String]
    /// Adapted modules, sorted by path.
    public var modules: [ModuleDescriptor]

    public init(
        name: String, baseModel: String?, revision: String? = nil, useDora: Bool = false,
        modulesToSave: [String] = [], modules: [ModuleDescriptor]
    ) {
        self.name = name
        self.baseModel = baseModel
        self.revision = revision
        self.useDora = useDora
        self.modulesToSave = modulesToSave
        self.modules = modules.sorted { $0.path < $1.path }
    }
}

/// One adapted module of an input: its rank, effective scaling and shape.
public struct ModuleDescriptor: Sendable, Equatable {
    public var path: String
    public var rank: Int
    public var scaling: Double
    public var inFeatures: Int
    public var outFeatures: Int
    public var hasMagnitude: Bool

    public init(path: String, rank: Int, scaling: Double, inFeatures: Int, outFeatures: Int, hasMagnitude: Bool = false) {
        self.path = path
        self.rank = rank
        self.scaling = scaling
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.hasMagnitude = hasMagnitude
    }
}
