@testable import Merge

/// Random adapters held in memory, for tests of the merge maths that do not need files.
struct SyntheticAdapter: Sendable {
    var descriptor: MergeInputDescriptor
    /// Factors by module path: A (rank×in) and B (out×rank).
    var factors: [String: (a: [Float], b: [Float])]

    static func make(
        name: String, seed: UInt64, rank: Int = 4, scaling: Double = 2, base: String = "base",
        modules: [(path: String, out: Int, in: Int)] = [("m.q", 24, 20), ("m.v", 16, 20)]
    ) -> SyntheticAdapter {
        var descriptors: [ModuleDescriptor] = []
        var factors: [String: (a: [Float], b: [Float])] = [:]
        for (index, module) in modules.enumerated() {
            let rngA = CounterRNG(seed: seed, modulePath: module.path, input: index, tensor: .loraA)
            let rngB = CounterRNG(seed: seed, modulePath: module.path, input: index, tensor: .loraB)
            let a = (0..<(rank * module.in)).map { rngA.normal($0) * 0.1 }
            let b = (0..<(module.out * rank)).map { rngB.normal($0) * 0.1 }
            factors[module.path] = (a, b)
            descriptors.append(ModuleDescriptor(
                path: module.path, rank: rank, scaling: scaling, inFeatures: module.in, outFeatures: module.out))
        }
        return SyntheticAdapter(
            descriptor: MergeInputDescriptor(name: name, baseModel: base, modules: descriptors), factors: factors)
    }

    /// The dense update s·B·A of one module, row-major out×in.
    func delta(_ path: String) -> [Float] {
        guard let module = descriptor.modules.first(where: { $0.path == path }), let f = factors[path] else { return [] }
        return LinearAlgebra.multiply(
            f.b, module.outFeatures, module.rank, f.a, module.rank, module.inFeatures, alpha: Float(module.scaling))
    }
}

/// Plans and runs a merge of synthetic adapters.
func mergeSynthetic(
    _ adapters: [SyntheticAdapter], _ request: MergeRequest, threads: Int? = nil
) throws -> [MergedModule] {
    let descriptors = adapters.map(\.descriptor)
    let plan = try MergeCompatibility.plan(inputs: descriptors, request: request)
    let tables = adapters.map(\.factors)
    return try MergeEngine.mergeModules(plan: plan, inputs: descriptors, threads: threads) { index, path in
        guard let f = tables[index][path] else { throw MergeError(.input, "missing \(path)") }
        return f
    }
}

/// B·A of a merged module (its scaling is 1).
func product(_ module: MergedModule) -> [Float] {
    LinearAlgebra.multiply(module.b, module.outFeatures, module.rank, module.a, module.rank, module.inFeatures)
}

/// ||x − y||_F / ||y||_F.
func relativeError(_ x: [Float], _ y: [Float]) -> Double {
    var diff: Double = 0, norm: Double = 0
    for i in y.indices {
        diff += Double(x[i] - y[i]) * Double(x[i] - y[i])
        norm += Double(y[i]) * Double(y[i])
    }
    return norm > 0 ? (diff / norm).squareRoot() : diff.squareRoot()
}
