import CLinearAlgebra
import Foundation
import QuiverCore

/// The merge engine: checks compatibility, then merges module by module on a bounded number of workers.
///
/// Peak memory is a few modules per worker (the factors are read on demand), never the whole model.
/// Each module's result depends only on its inputs and the request, so the output bytes are the same for any
/// number of threads.
public enum MergeEngine {
    /// Reads input `index`'s factors for module `path`: A (rank×in) and B (out×rank), row-major Float32.
    public typealias FactorLoader = @Sendable (_ index: Int, _ path: String) throws -> (a: [Float], b: [Float])

    /// Merges the planned modules.
    /// - Parameters:
    ///   - plan: from `MergeCompatibility.plan`.
    ///   - inputs: the descriptors the plan was made from.
    ///   - threads: workers (modules in flight at once); defaults to the number of active cores.
    ///   - workspaceBudget: bytes of per-module workspace (dense deltas for `*_svd`, factor copies otherwise)
    ///     in flight at once; defaults to the larger of the inputs' total factor size and one largest module
    ///     per worker (capped at a quarter of physical memory), so with many threads workspace stays near the
    ///     inputs' size. A module larger than the budget runs alone.
    ///   - alongside: other work (hashing the inputs) run by the same workers, before the modules are handed out,
    ///     so it overlaps the merge instead of preceding or following it.
    ///   - completed: called by the worker that merged module `index` (of `plan.modules`), right away; what it
    ///     returns is kept in place of the module (e.g. the module without its factors, once they are written).
    ///   - factors: reads one module of one input.
    /// - Returns: the merged modules in path order.
    public static func mergeModules(
        plan: MergePlan, inputs: [MergeInputDescriptor], threads: Int? = nil, workspaceBudget: Int? = nil,
        alongside: [@Sendable () -> Void] = [],
        completed: (@Sendable (_ index: Int, _ module: MergedModule) throws -> MergedModule)? = nil,
        factors: FactorLoader
    ) throws -> [MergedModule] {
        let request = plan.request
        // BLAS is loaded on first use, single-threaded (parallelism is across modules, and results must not depend
        // on a thread count). Methods that truncate load it here, before the workers start, so a missing library
        // is a named error rather than a failure inside a worker; the others never load it.
        if request.method.usesSVDRank || request.method == .slerp { try LinearAlgebra.require() }
        let weights = request.resolvedWeights(count: inputs.count)
        let modules = plan.modules
        let costs = modules.map { workspaceBytes($0, inputs: inputs, method: request.method) }
        let inputBytes = inputs.reduce(0) { total, input in
            total + input.modules.reduce(0) { $0 + 4 * $1.rank * ($1.inFeatures + $1.outFeatures) }
        }
        // Default: the inputs' size, but never fewer than one largest module per worker while that stays
        // within a quarter of physical memory (small inputs with big dense modules still run in parallel).
        let workers = max(1, min(threads ?? ParallelMap.activeCores, modules.count))
        let perWorker = min(Int(clamping: ProcessInfo.processInfo.physicalMemory / 4), workers * (costs.max() ?? 0))
        let budget = WorkspaceBudget(limit: workspaceBudget ?? max(inputBytes, perWorker))
        let denseBuffers = DenseBufferPool()
        let side = alongside.count
        // Dense updates: the largest modules first (a worker's last module is then a small one, and workers finish
        // together), and modules of one size one after another, so a dense update's buffer is taken back by the
        // next module. Other methods keep the plan's order.
        let order = request.method.isDenseSVD ? modules.indices.sorted { (costs[$0], -$0) > (costs[$1], -$1) } : Array(modules.indices)
        let results = try forEachModule(count: side + modules.count, threads: threads) { index -> MergedModule? in
            if index < side {
                alongside[index]()
                return nil
            }
            let module = order[index - side]
            return try budget.withBytes(costs[module]) {
                let merged = try mergeModule(modules[module], inputs: inputs, request: request, weights: weights,
                                             denseBuffers: denseBuffers, factors: factors)
                return try completed?(module, merged) ?? merged
            }
        }
        // Back in the plan's order.
        var merged = [MergedModule?](repeating: nil, count: modules.count)
        for (position, module) in order.enumerated() { merged[module] = results[side + position] }
        return merged.compactMap { $0 }
    }

    /// Runs `body` for module indices 0..<count on `threads` workers (default: the active cores) with
    /// ``ParallelMap``; results in index order, the lowest failing index's error wins.
    static func forEachModule<T: Sendable>(count: Int, threads: Int?, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        do {
            return try ParallelMap.run(count: count, workers: threads, body)
        } catch is ParallelMap.MissingResult {
            throw MergeError(.linearAlgebra, "a module was not processed")
        }
    }

    /// What merging `module` holds beyond the inputs: the dense delta for `*_svd` (plus the output factors),
    /// else copies of the factors and the output.
    static func workspaceBytes(_ module: PlannedModule, inputs: [MergeInputDescriptor], method: MergeMethod) -> Int {
        let output = 4 * module.outputRank * (module.inFeatures + module.outFeatures)
        let factors = module.inputs.reduce(0) { total, index in
            let rank = inputs[index].modules.first { $0.path == module.path }?.rank ?? 0
            return total + 4 * rank * (module.inFeatures + module.outFeatures)
        }
        let dense = method.isDenseSVD ? 4 * module.inFeatures * module.outFeatures : 0
        return dense + 2 * factors + output
    }

    private static func mergeModule(
        _ module: PlannedModule, inputs: [MergeInputDescriptor], request: MergeRequest, weights: [Double],
        denseBuffers: DenseBufferPool, factors: FactorLoader
    ) throws -> MergedModule {
        var moduleInputs: [ModuleInput] = []
        for inputIndex in module.inputs {
            guard let descriptor = inputs[inputIndex].modules.first(where: { $0.path == module.path }) else {
                continue
            }
            let (a, b) = try factors(inputIndex, module.path)
            try checkFactors(a: a, b: b, module: descriptor, input: inputs[inputIndex].name)
            moduleInputs.append(ModuleInput(
                index: inputIndex, a: a, b: b, rank: descriptor.rank, scaling: descriptor.scaling,
                weight: weights[inputIndex]))
        }
        let merged = try ModuleMerger(request: request, module: module, denseBuffers: denseBuffers).merge(moduleInputs)
        try checkOutput(merged)
        return merged
    }

    /// Refuses a merged module holding NaN or Inf: finite inputs can still overflow Float32 under extreme weights
    /// (`--weights 1e308,1e308`), and such a result must never be written or recorded.
    static func checkOutput(_ merged: MergedModule) throws {
        for (name, values) in [("lora_A", merged.a), ("lora_B", merged.b)] where !allFinite(values) {
            throw MergeError(
                .nonFiniteOutput, "the merged \(merged.path).\(name) overflows to NaN or Inf",
                hint: "the weights or parameters are too large for Float32 factors; use weights of ordinary size")
        }
    }

    /// Refuses factors with the wrong size or non-finite values, naming the input and module.
    static func checkFactors(a: [Float], b: [Float], module: ModuleDescriptor, input: String) throws {
        guard a.count == module.rank * module.inFeatures, b.count == module.outFeatures * module.rank else {
            throw MergeError(
                .shapeMismatch, "\(module.path) in \(input): factor sizes \(a.count) and \(b.count) do not match "
                    + "rank \(module.rank) and shape \(module.outFeatures)x\(module.inFeatures)",
                hint: "the adapter file is inconsistent with its config; re-export it")
        }
        for (name, values) in [("lora_A", a), ("lora_B", b)] where !allFinite(values) {
            throw MergeError(
                .nonFinite, "\(module.path).\(name) in \(input) contains NaN or Inf",
                hint: "the adapter is corrupt or diverged in training; fix or drop it")
        }
    }
}

