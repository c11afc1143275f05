import Foundation
import LoRA
import QuiverCore
import SafeTensors

extension MergeEngine {
    /// Merges PEFT adapters: checks compatibility, merges module by module, and builds the merged adapter.
    ///
    /// - Parameters:
    ///   - inputs: loaded adapters, in the order of `request.weights`.
    ///   - request: method and parameters; stored with the result.
    ///   - threads: modules merged at once (default: all cores); the output does not depend on it.
    /// - Throws: `MergeError` for a refusal (nothing is computed), `LoRAError`/`SafeTensorsError` for bad files.
    public static func merge(inputs: [LoRAAdapter], request: MergeRequest, threads: Int? = nil) throws -> MergeResult {
        let descriptors = try inputs.map(descriptor(for:))
        let plan = try MergeCompatibility.plan(inputs: descriptors, request: request)
        let merged = try mergeModules(of: inputs, descriptors: descriptors, plan: plan, threads: threads)
        return try result(inputs: inputs, plan: plan, merged: merged)
    }

    /// Merges the planned modules of loaded adapters, their factors read from the adapters' files. The inputs' digests (recorded in the result's metadata) are computed by the merge's own workers, one read of
    /// each input for both digests, while the other workers merge modules.
    static func mergeModules(
        of inputs: [LoRAAdapter], descriptors: [MergeInputDescriptor], plan: MergePlan, threads: Int?,
        completed: (@Sendable (_ index: Int, _ module: MergedModule) throws -> MergedModule)? = nil
    ) throws -> [MergedModule] {
        try mergeModules(
            plan: plan, inputs: descriptors, threads: threads, alongside: inputs.map { input in { input.digests() } },
            completed: completed
        ) { index, path in
            try inputs[index].factors(path)
        }
    }

    /// Each input's canonical and file digest, hex, as the merged file's metadata records them.
    static func recordedDigests(_ inputs: [LoRAAdapter]) -> [(canonical: String, weights: String)] {
        inputs.map { ($0.canonicalDigest.hex, $0.weightsDigest.hex) }
    }

    /// The compatibility view of an adapter; refuses what Quiver cannot merge faithfully (lora_bias).
    public static func descriptor(for adapter: LoRAAdapter) throws -> MergeInputDescriptor {
        let name = adapter.directory.lastPathComponent
        if let module = adapter.modules.first(where: { $0.biasKey != nil }) {
            throw MergeError(
                .input, "\(name) trains a LoRA bias (lora_bias) in \(module.path); merging would drop it",
                hint: "merge adapters trained without lora_bias")
        }
        if let bias = adapter.baseModelTensors.first(where: { $0.hasSuffix(".bias") }) {
            throw MergeError(
                .input, "\(name) trains base-model biases (bias = \"\(adapter.config.bias)\", e.g. \(bias)); they cannot be merged and would be dropped",
                hint: "merge adapters trained with bias = \"none\"")
        }
        return MergeInputDescriptor(
            name: name, baseModel: adapter.config.baseModelNameOrPath, revision: adapter.config.revision,
            useDora: adapter.config.useDora, modulesToSave: adapter.config.modulesToSave ?? [],
            modules: adapter.modules.map {
                ModuleDescriptor(
                    path: $0.path, rank: $0.rank, scaling: $0.scaling, inFeatures: $0.inFeatures,
                    outFeatures: $0.outFeatures, hasMagnitude: $0.magnitudeKey != nil)
            })
    }

    static func result(inputs: [LoRAAdapter], plan: MergePlan, merged: [MergedModule]) throws -> MergeResult {
        var tensors: [TensorToWrite] = []
        for (module, planned) in zip(merged, plan.modules) {
            let keys = outputKeys(planned, inputs: inputs)
            tensors.append(TensorToWrite(name: keys.a, shape: [module.rank, module.inFeatures], values: module.a))
            tensors.append(TensorToWrite(name: keys.b, shape: [module.outFeatures, module.rank], values: module.b))
        }
        tensors += try carriedTensors(inputs: inputs)
        let (config, metadata, report) = try summary(
            inputs: inputs, plan: plan, merged: merged, digests: recordedDigests(inputs))
        return MergeResult(config: config, tensors: tensors, metadata: metadata, report: report)
    }

    /// The names of a merged module's two tensors, as its first input names them (embeddings keep their keys).
    static func outputKeys(_ planned: PlannedModule, inputs: [LoRAAdapter]) -> (a: String, b: String) {
        let kind = inputs[planned.inputs[0]].module(planned.path)?.kind ?? .linear
        return kind == .embedding
            ? ("base_model.model.\(planned.path).lora_embedding_A", "base_model.model.\(planned.path).lora_embedding_B")
            : loraTensorKeys(modulePath: planned.path)
    }

    /// Everything about a merge's output but its tensors: the config, the safetensors metadata (`digests`: each
    /// input's canonical and file digest, hex) and the report. Reads only the merged modules' paths, ranks and
    /// truncation errors.
    static func summary(
        inputs: [LoRAAdapter], plan: MergePlan, merged: [MergedModule], digests: [(canonical: String, weights: String)]
    ) throws -> (config: AdapterConfig, metadata: [String: String], report: MergeReport) {
        let request = plan.request
        var reports: [ModuleReport] = []
        var worst: Double?
        for (module, planned) in zip(merged, plan.modules) {
            if let error = module.truncationError, let norm = module.deltaNorm, norm > 0 {
                worst = max(worst ?? 0, error / norm)
            }
            reports.append(ModuleReport(
                path: module.path, rank: module.rank, inputs: planned.inputs,
                truncationError: module.truncationError, deltaNorm: module.deltaNorm))
        }
        let report = MergeReport(
            method: request.method, request: request, modules: reports, maxRelativeTruncationError: worst)
        let config = mergedConfig(inputs: inputs.map(\.config), merged: merged, method: request.method)
        var metadata: [String: String] = [
            "format": "pt",
            "quiver.version": QuiverVersion.current,
            "quiver.method": request.method.rawValue,
            "quiver.request": String(decoding: try request.canonicalJSON(), as: UTF8.self),
            "quiver.seed": String(request.seed),
            "quiver.inputs": digests.map(\.canonical).joined(separator: ","),
            "quiver.input_weights_sha256": digests.map(\.weights).joined(separator: ","),
        ]
        if let worst { metadata["quiver.max_relative_truncation_error"] = NumberFormat.significant(worst, 6) }
        return (config, metadata, report)
    }

    /// Whole tensors copied unchanged into the result: every input's `modules_to_save` copies (the compatibility
    /// check refuses overlaps, so each comes from one input) and saved base layers (`<module>.base_layer.weight`,
    /// e.g. a resized embedding), which must be byte-identical in every input that has them.
    static func carriedTensors(inputs: [LoRAAdapter]) throws -> [TensorToWrite] {
        var byName: [String: (tensor: TensorToWrite, from: String)] = [:]
        var order: [String] = []
        for input in inputs {
            let name = input.directory.lastPathComponent
            for key in input.savedModuleTensors + input.baseModelTensors {
                if let earlier = byName[key] {
                    // Compared in place in the mapping: a saved embedding can be hundreds of MB, not worth a copy.
                    let info = input.weights.info(key)
                    let identical = try info?.shape == earlier.tensor.shape && info?.dtype == earlier.tensor.dtype
                        && input.weights.withRawBytes(key) { mine in
                            guard case let .raw(theirs) = earlier.tensor.payload else { return false }
                            return theirs.elementsEqual(mine)
                        }
                    guard identical else {
                        throw MergeError(
                            .input, "\(earlier.from) and \(name) both save \(key) with different values",
                            hint: "a saved base layer or full module copy cannot be merged; keep it in one input only")
                    }
                    continue
                }
                byName[key] = (try TensorToWrite(copying: key, from: input.weights), name)
                order.append(key)
            }
        }
        return order.compactMap { byName[$0]?.tensor }
    }

    /// The merged adapter's config: input 0's, with r and lora_alpha equal to the new rank (scaling 1),
    /// use_rslora off, rank/alpha patterns only where module ranks differ, target_modules the union,
    /// modules_to_save the union, and layer restrictions that select every merged module.
    /// slerp keeps the inputs' rank, alpha and rsLoRA (their scaling is not folded into the factors).
    static func mergedConfig(inputs: [AdapterConfig], merged: [MergedModule], method: MergeMethod) -> AdapterConfig {
        var config = inputs[0]
        config.targetModules = unionTargets(inputs.map(\.targetModules))
        config.useDora = false
        var saved: [String] = []
        for name in inputs.flatMap({ $0.modulesToSave ?? [] }) where !saved.contains(name) { saved.append(name) }
        config.modulesToSave = saved.isEmpty ? inputs[0].modulesToSave : saved
        unionLayerRestrictions(&config, inputs: inputs, paths: merged.map(\.path))
        if method == .slerp { return config }
        let ranks = merged.map(\.rank)
        var counts: [Int: Int] = [:]
        for rank in ranks { counts[rank, default: 0] += 1 }
        // The most common rank becomes r, so the patterns stay short; ties go to the larger rank.
        let r = counts.max { ($0.value, $0.key) < ($1.value, $1.key) }?.key ?? 1
        config.r = r
        config.loraAlpha = Double(r)
        config.useRslora = false
        config.rankPattern = [:]
        config.alphaPattern = [:]
        for module in merged where module.rank != r {
            config.rankPattern[module.path] = module.rank
            config.alphaPattern[module.path] = Double(module.rank)
        }
        return config
    }

    /// Input 0's `layers_to_transform` / `exclude_modules` would silently drop the other inputs' modules of other
    /// layers (PEFT never creates their LoRA layers). Keep a layer list only when every input has one (their union),
    /// and `exclude_modules` only when it excludes no merged module; if a merged module is still not selected, target
    /// exactly the merged modules.
    static func unionLayerRestrictions(_ config: inout AdapterConfig, inputs: [AdapterConfig], paths: [String]) {
        let lists = inputs.compactMap(\.layersToTransform)
        if lists.count == inputs.count, Set(inputs.map { $0.layersPattern ?? [] }).count == 1 {
            config.layersToTransform = Array(Set(lists.joined())).sorted()
        } else {
            config.layersToTransform = nil
            config.layersPattern = nil
        }
        if let exclude = config.excludeModules, paths.contains(where: exclude.matches) { config.excludeModules = nil }
        if !paths.allSatisfy(config.targets) {
            config.targetModules = .regex(paths.sorted().map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|"))
            config.layersToTransform = nil
            config.layersPattern = nil
            config.excludeModules = nil
        }
    }

    /// PEFT's union: lists merge into one sorted list; regexes (or a regex and a list) join as `(a)|(b)`.
    static func unionTargets(_ targets: [TargetModules]) -> TargetModules {
        var names = Set<String>()
        var patterns: [String] = []
        for target in targets {
            switch target {
            case let .list(list): names.formUnion(list)
            case let .regex(pattern): if !patterns.contains(pattern) { patterns.append(pattern) }
            }
        }
        if patterns.isEmpty { return .list(names.sorted()) }
        if names.isEmpty && patterns.count == 1 { return .regex(patterns[0]) }
        if !names.isEmpty {
            patterns.append(".*\\.(" + names.sorted().map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|") + ")")
        }
        return .regex(patterns.map { "(\($0))" }.joined(separator: "|"))
    }
}
