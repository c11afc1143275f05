import Foundation

/// The compatibility rules of MERGE-SEMANTICS.md: a pure function over the inputs' metadata that either
/// returns the merge plan or refuses with a named error. Non-finite factors are checked when factors are read.
public enum MergeCompatibility {
    /// Checks `request` against `inputs` and plans the output modules.
    /// - Throws: `MergeError` naming the first rule broken, where, and what to do instead.
    public static func plan(inputs: [MergeInputDescriptor], request: MergeRequest) throws -> MergePlan {
        try checkParameters(request, inputCount: inputs.count)
        try checkInputs(inputs)
        let method = request.method
        let modules = try groupModules(inputs)
        var planned: [PlannedModule] = []
        let maxRank = inputs.flatMap(\.modules).map(\.rank).max() ?? 0
        for (path, members) in modules {
            let first = members[0].module
            for member in members.dropFirst() where
                member.module.inFeatures != first.inFeatures || member.module.outFeatures != first.outFeatures
            {
                throw MergeError(
                    .shapeMismatch,
                    "\(path) is \(first.outFeatures)x\(first.inFeatures) in \(inputs[members[0].index].name) "
                        + "but \(member.module.outFeatures)x\(member.module.inFeatures) in \(inputs[member.index].name)",
                    hint: "the inputs adapt different architectures; merge adapters of the same base model")
            }
            if method.isFactorSpace {
                try checkFactorSpace(path: path, members: members, inputs: inputs, request: request)
            }
            if method == .slerp && members.count != inputs.count {
                let missing = inputs.indices.filter { index in !members.contains { $0.index == index } }
                throw MergeError(
                    .moduleSetMismatch,
                    "\(path) is adapted by \(inputs[members[0].index].name) but not by \(inputs[missing[0]].name)",
                    hint: "slerp interpolates matching tensors; both inputs must adapt the same modules")
            }
            let rank: Int
            switch method {
            case .cat:
                let total = members.map(\.module.rank).reduce(0, +)
                rank = min(total, request.svdRank ?? total)
            case .svd, .tiesSVD, .dareLinearSVD, .dareTiesSVD, .magnitudePruneSVD:
                // A rank above min(in, out) holds nothing (the SVD has no more singular values), so the request is
                // capped there: a huge --svd-rank must not size the output factors.
                rank = min(request.svdRank ?? maxRank, first.inFeatures, first.outFeatures)
            default:
                rank = first.rank
            }
            planned.append(PlannedModule(
                path: path, inFeatures: first.inFeatures, outFeatures: first.outFeatures,
                inputs: members.map(\.index), outputRank: rank))
        }
        if planned.isEmpty {
            throw MergeError(.noModules, "the inputs adapt no modules", hint: "check the adapters' target_modules")
        }
        return MergePlan(request: request.resolved(inputCount: inputs.count), modules: planned)
    }

    /// Parameter ranges that do not depend on the inputs' contents (public so a command line can refuse them before
    /// reading any input).
    public static func checkParameters(_ request: MergeRequest, inputCount: Int) throws {
        let method = request.method
        guard inputCount > 0 else {
            throw MergeError(.noInputs, "a merge needs at least one input", hint: "pass one or more adapter directories")
        }
        if let weights = request.weights {
            guard weights.count == inputCount else {
                throw MergeError(
                    .weightCount, "\(weights.count) weights for \(inputCount) inputs",
                    hint: "give one weight per input, in the same order")
            }
            if let bad = weights.first(where: { !$0.isFinite }) {
                throw MergeError(.badParameter, "weight \(bad) is not a finite number", hint: "use finite weights")
            }
        }
        if method.usesDensity {
            guard let density = request.density else {
                throw MergeError(
                    .missingParameter, "\(method.rawValue) needs a density (the fraction of entries kept)",
                    hint: "pass --density, e.g. 0.5 for ties or 0.7 for dare_linear")
            }
            guard density >= 0, density <= 1 else {
                throw MergeError(.badParameter, "density \(density) is outside [0, 1]", hint: "use a density between 0 and 1")
            }
        }
        if let rank = request.svdRank, method.usesSVDRank, rank < 1 {
            throw MergeError(.badParameter, "svd_rank \(rank) is below 1", hint: "use a rank of at least 1")
        }
        if method == .slerp {
            guard inputCount == 2 else {
                throw MergeError(
                    .slerpInputs, "slerp interpolates exactly two inputs, got \(inputCount)",
                    hint: "merge two at a time, or use linear for more inputs")
            }
            guard let t = request.t else {
                throw MergeError(.missingParameter, "slerp needs t", hint: "pass --t between 0 and 1")
            }
            guard t >= 0, t <= 1 else {
                throw MergeError(.badParameter, "slerp t \(t) is outside [0, 1]", hint: "use t between 0 and 1")
            }
        }
    }

    /// Rules over whole inputs: base model, DoRA, modules_to_save.
    static func checkInputs(_ inputs: [MergeInputDescriptor]) throws {
        for input in inputs where input.useDora || input.modules.contains(where: \.hasMagnitude) {
            throw MergeError(
                .dora,
                "DoRA input: its magnitude vectors cannot be merged this way (\(input.name) has use_dora = true)",
                hint: "merge the DoRA adapter into its base model instead, or retrain it as a plain LoRA")
        }
        let first = inputs[0]
        for input in inputs.dropFirst() {
            if input.baseModel != first.baseModel {
                throw MergeError(
                    .baseModelMismatch,
                    "inputs were trained on different base models: \(first.name) on "
                        + "\(first.baseModel ?? "(none)"), \(input.name) on \(input.baseModel ?? "(none)")",
                    hint: "merge only adapters of the same base model")
            }
            if let a = first.revision, let b = input.revision, a != b {
                throw MergeError(
                    .baseModelMismatch,
                    "inputs were trained on different base models: \(first.name) on \(first.baseModel ?? "") "
                        + "revision \(a), \(input.name) on revision \(b)",
                    hint: "merge only adapters of the same base model revision")
            }
        }
        var owner: [String: String] = [:]
        for input in inputs {
            for module in Set(input.modulesToSave) {
                if let other = owner[module] {
                    throw MergeError(
                        .modulesToSaveOverlap,
                        "\(other) and \(input.name) both save a full copy of \(module) (modules_to_save)",
                        hint: "full module copies cannot be merged; drop modules_to_save from all but one input")
                }
                owner[module] = input.name
            }
        }
    }

    /// Factor-space methods: equal ranks per module, and equal scaling unless folding is allowed.
    static func checkFactorSpace(
        path: String, members: [(index: Int, module: ModuleDescriptor)], inputs: [MergeInputDescriptor],
        request: MergeRequest
    ) throws {
        let first = members[0]
        for member in members.dropFirst() {
            if member.module.rank != first.module.rank {
                throw MergeError(
                    .rankMismatch,
                    "rank differs in \(path) (\(first.module.rank) vs \(member.module.rank)): "
                        + "\(inputs[first.index].name) and \(inputs[member.index].name)",
                    hint: "ranks \(first.module.rank) and \(member.module.rank) differ in \(path): use cat or svd")
            }
            let a = first.module.scaling, b = member.module.scaling
            let differs = abs(a - b) > 1e-9 * max(abs(a), abs(b))
            if differs && (request.method == .slerp || !request.allowScalingMismatch) {
                throw MergeError(
                    .scalingMismatch,
                    "scaling differs in \(path) (\(a) in \(inputs[first.index].name) vs \(b) in "
                        + "\(inputs[member.index].name)): \(request.method.rawValue) would fold it into the factors",
                    hint: request.method == .slerp
                        ? "slerp needs equal scaling; use linear with --allow-scaling-mismatch, or svd"
                        : "pass --allow-scaling-mismatch to fold each scaling into the weights (as PEFT does), or use cat or svd")
            }
        }
    }

    /// Modules by path with the inputs that have them, in path order.
    static func groupModules(
        _ inputs: [MergeInputDescriptor]
    ) throws -> [(String, [(index: Int, module: ModuleDescriptor)])] {
        var byPath: [String: [(index: Int, module: ModuleDescriptor)]] = [:]
        for (index, input) in inputs.enumerated() {
            for module in input.modules {
                guard module.rank >= 1, module.inFeatures >= 1, module.outFeatures >= 1 else {
                    throw MergeError(
                        .input, "\(module.path) in \(input.name) has rank \(module.rank) and shape "
                            + "\(module.outFeatures)x\(module.inFeatures)",
                        hint: "the adapter is malformed; re-export it")
                }
                byPath[module.path, default: []].append((index, module))
            }
        }
        return byPath.keys.sorted().map { ($0, byPath[$0] ?? []) }
    }
}
