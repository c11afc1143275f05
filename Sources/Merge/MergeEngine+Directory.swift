import Foundation
import LoRA
import QuiverCore
import SafeTensors

/// What ``MergeEngine/merge(inputs:request:threads:into:synchronize:)`` wrote beside the tensors.
public struct WrittenMerge: Sendable {
    public let config: AdapterConfig
    /// The safetensors `__metadata__` written.
    public let metadata: [String: String]
    public let report: MergeReport
}

extension MergeEngine {
    /// Merges PEFT adapters into the PEFT directory `directory` (created if needed): `adapter_model.safetensors`
    /// then `adapter_config.json`, each atomically, the same bytes as writing ``merge(inputs:request:threads:)``'s
    /// result with ``LoRAWriter``.
    ///
    /// When no module is truncated (the factor-space methods, and `cat` without a rank cap) the file's layout is
    /// known before any arithmetic, so each module's factors are written at their place in the file by the worker
    /// that merged them, and dropped: the merged adapter is never held whole, the write overlaps the merge, and the
    /// memory of one module is reused for the next instead of every module's output being freshly paged in. The
    /// header goes in last, once the inputs' digests (computed alongside) are known; placeholders of the same
    /// length fix its size. Truncating methods, whose metadata carries the largest truncation error, are merged
    /// whole and then written.
    public static func merge(
        inputs: [LoRAAdapter], request: MergeRequest, threads: Int? = nil, into directory: URL, synchronize: Bool = false
    ) throws -> WrittenMerge {
        let descriptors = try inputs.map(descriptor(for:))
        let plan = try MergeCompatibility.plan(inputs: descriptors, request: request)
        guard FloatConversion.isLittleEndian, !truncates(plan, inputs: descriptors) else {
            let merged = try mergeModules(of: inputs, descriptors: descriptors, plan: plan, threads: threads)
            let result = try result(inputs: inputs, plan: plan, merged: merged)
            try LoRAWriter.write(config: result.config, tensors: result.tensors, metadata: result.metadata, to: directory,
                                 synchronize: synchronize)
            return WrittenMerge(config: result.config, metadata: result.metadata, report: result.report)
        }
        try LoRAWriter.createDirectory(directory)
        let carried = try carriedTensors(inputs: inputs)
        var layout: [TensorLayout] = []
        var keys: [(a: String, b: String)] = []
        for planned in plan.modules {
            let names = outputKeys(planned, inputs: inputs)
            keys.append(names)
            guard let a = TensorLayout(name: names.a, shape: [planned.outputRank, planned.inFeatures], dtype: .F32),
                  let b = TensorLayout(name: names.b, shape: [planned.outFeatures, planned.outputRank], dtype: .F32) else {
                throw MergeError(.shapeMismatch, "\(planned.path): the merged factors' size overflows")
            }
            layout += [a, b]
        }
        for tensor in carried {
            guard case let .raw(bytes) = tensor.payload,
                  let entry = TensorLayout(name: tensor.name, shape: tensor.shape, dtype: tensor.dtype),
                  entry.byteCount == bytes.count else {
                throw MergeError(.input, "\(tensor.name): its size does not match its shape \(tensor.shape) of \(tensor.dtype)")
            }
            layout.append(entry)
        }
        // The digests are 64 hex digits however they turn out, so placeholders size the header exactly.
        let placeholder = String(repeating: "0", count: 64)
        let sized = try summary(
            inputs: inputs, plan: plan,
            merged: plan.modules.map { lightweight(path: $0.path, rank: $0.outputRank, inFeatures: $0.inFeatures, outFeatures: $0.outFeatures) },
            digests: inputs.map { _ in (placeholder, placeholder) })
        let writer = try SafeTensorsInPlaceWriter(
            url: directory.appendingPathComponent(LoRAAdapter.weightsFileName), tensors: layout, metadata: sized.metadata)
        do {
            for tensor in carried {
                guard case let .raw(bytes) = tensor.payload else { continue }
                try bytes.withUnsafeBytes { try writer.write(tensor.name, bytes: $0) }
            }
            let modules = plan.modules, names = keys
            let merged = try mergeModules(
                of: inputs, descriptors: descriptors, plan: plan, threads: threads,
                completed: { index, module in
                    let planned = modules[index]
                    guard module.truncationError == nil, module.rank == planned.outputRank else {
                        throw MergeError(.linearAlgebra, "\(module.path) was merged to rank \(module.rank), not the planned \(planned.outputRank)")
                    }
                    try writer.write(names[index].a, values: module.a)
                    try writer.write(names[index].b, values: module.b)
                    return lightweight(path: module.path, rank: module.rank, inFeatures: module.inFeatures, outFeatures: module.outFeatures)
                })
            let (config, metadata, report) = try summary(
                inputs: inputs, plan: plan, merged: merged, digests: recordedDigests(inputs))
            try writer.finish(metadata: metadata, synchronize: synchronize)
            try LoRAWriter.writeConfig(config, to: directory, synchronize: synchronize)
            return WrittenMerge(config: config, metadata: metadata, report: report)
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Whether some module of the plan is truncated to a lower rank (its error then goes into the metadata).
    static func truncates(_ plan: MergePlan, inputs: [MergeInputDescriptor]) -> Bool {
        let method = plan.request.method
        if method == .svd || method.isDenseSVD { return true }
        guard method == .cat else { return false }
        return plan.modules.contains { planned in
            let total = planned.inputs.reduce(0) { sum, index in
                sum + (inputs[index].modules.first { $0.path == planned.path }?.rank ?? 0)
            }
            return planned.outputRank < total
        }
    }

    /// A merged module's description without its factors (already written).
    static func lightweight(path: String, rank: Int, inFeatures: Int, outFeatures: Int) -> MergedModule {
        MergedModule(path: path, rank: rank, inFeatures: inFeatures, outFeatures: outFeatures, a: [], b: [],
                     truncationError: nil, deltaNorm: nil)
    }
}
