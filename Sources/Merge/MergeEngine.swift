import CLinearAlgebra

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
    ///   - factors: reads one module of one input.
    /// - Returns: the merged modules in path order.
    public static func mergeModules(
        plan: MergePlan, inputs: [MergeInputDescriptor], threads: Int? = nil, factors: FactorLoader
    ) throws -> [MergedModule] {
        // Parallelism is across modules; OpenBLAS threads would oversubscribe the cores and make results
        // depend on the thread count.
        openblas_set_num_threads(1)
        let request = plan.request
        let weights = request.resolvedWeights(count: inputs.count)
        let modules = plan.modules
        return try ParallelMap.run(count: modules.count, threads: threads) { index in
            let module = modules[index]
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
            return try ModuleMerger(request: request, module: module).merge(moduleInputs)
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
        for (name, values) in [("lora_A", a), ("lora_B", b)] where values.contains(where: { !$0.isFinite }) {
            throw MergeError(
                .nonFinite, "\(module.path).\(name) in \(input) contains NaN or Inf",
                hint: "the adapter is corrupt or diverged in training; fix or drop it")
        }
    }
}

