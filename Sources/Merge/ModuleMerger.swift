import Foundation

/// One input's factors for one module, with its weight and scaling.
struct ModuleInput: Sendable {
    /// Position of the input in the request (keys the DARE masks).
    let index: Int
    /// rank×in, row-major.
    let a: [Float]
    /// out×rank, row-major.
    let b: [Float]
    let rank: Int
    let scaling: Double
    let weight: Double
}

/// The merged factors of one module.
public struct MergedModule: Sendable {
    public let path: String
    public let rank: Int
    public let inFeatures: Int
    public let outFeatures: Int
    /// rank×in, row-major.
    public let a: [Float]
    /// out×rank, row-major.
    public let b: [Float]
    /// ||D − D_k||_F for the truncating methods (D = the merged dense delta before truncation).
    public let truncationError: Double?
    /// ||D||_F for the truncating methods.
    public let deltaNorm: Double?
}

/// Merges one module by the request's method. Pure computation on the given factors.
struct ModuleMerger: Sendable {
    let request: MergeRequest
    let module: PlannedModule
    /// Where the dense update of a `*_svd` method comes from and goes back to (shared by one merge's modules).
    var denseBuffers = DenseBufferPool()

    func merge(_ inputs: [ModuleInput]) throws -> MergedModule {
        let method = request.method
        switch method {
        case .slerp:
            return try slerp(inputs)
        case .cat:
            return try cat(inputs)
        case .svd:
            let (bc, ac, inner) = try stacked(inputs)
            let t = try Truncation.ofProduct(
                b: bc, a: ac, rows: module.outFeatures, cols: module.inFeatures, inner: inner, k: module.outputRank)
            return output(t)
        default:
            guard let rule = method.elementwise else {
                throw MergeError(.badParameter, "method \(method.rawValue) has no elementwise rule")
            }
            if method.isDenseSVD {
                let dense = DenseDeltaBuilder(
                    request: request, rule: rule, path: module.path, rows: module.outFeatures,
                    cols: module.inFeatures, inputs: inputs
                ).build(buffers: denseBuffers)
                try requireFinite(dense, "dense update")
                let rng = CounterRNG(seed: request.seed, modulePath: module.path, input: -1, tensor: .gaussian)
                let t = try Truncation.randomized(
                    dense: dense, rows: module.outFeatures, cols: module.inFeatures, k: module.outputRank,
                    signalRank: inputs.map(\.rank).reduce(0, +), rng: rng)
                denseBuffers.recycle(dense)
                return output(t)
            }
            return factorSpace(inputs, rule: rule)
        }
    }

    private func output(_ t: Truncation) -> MergedModule {
        MergedModule(
            path: module.path, rank: t.rank, inFeatures: module.inFeatures, outFeatures: module.outFeatures,
            a: t.a, b: t.b, truncationError: t.errorSquared.squareRoot(), deltaNorm: t.normSquared.squareRoot())
    }

    /// Bc = [w_1 s_1 B_1 | …] (out×R) and Ac = [A_1; …] (R×in): Bc·Ac = Σ w_i s_i B_i A_i exactly.
    /// Refuses values that overflowed before they reach LAPACK (which would fail with an opaque error): finite
    /// inputs times extreme weights can leave Float32's range.
    private func requireFinite(_ values: [Float], _ what: String) throws {
        if !allFinite(values) {
            throw MergeError(
                .nonFiniteOutput, "the merged \(module.path) overflows to NaN or Inf (\(what))",
                hint: "the weights or parameters are too large for Float32 factors; use weights of ordinary size")
        }
    }

    private func stacked(_ inputs: [ModuleInput]) throws -> (b: [Float], a: [Float], inner: Int) {
        let rows = module.outFeatures
        let inner = inputs.map(\.rank).reduce(0, +)
        // Every entry of Bc is written below (the inputs' columns tile it), so it starts uninitialized.
        var bc = [Float](unsafeUninitializedCapacity: rows * inner) { _, initialized in initialized = rows * inner }
        var ac: [Float] = []
        ac.reserveCapacity(inner * module.inFeatures)
        var offset = 0
        for input in inputs {
            let c = Float(input.weight * input.scaling)
            for i in 0..<rows { for j in 0..<input.rank { bc[i * inner + offset + j] = c * input.b[i * input.rank + j] } }
            ac.append(contentsOf: input.a)
            offset += input.rank
        }
        try requireFinite(bc, "weighted lora_B")
        return (bc, ac, inner)
    }

    /// PEFT's cat: A' = concat_rows(w_i s_i A_i), B' = concat_cols(B_i); with a rank cap, the exact truncation.
    private func cat(_ inputs: [ModuleInput]) throws -> MergedModule {
        let inner = inputs.map(\.rank).reduce(0, +)
        if module.outputRank < inner {
            let (bc, ac, _) = try stacked(inputs)
            return output(try Truncation.ofProduct(
                b: bc, a: ac, rows: module.outFeatures, cols: module.inFeatures, inner: inner, k: module.outputRank))
        }
        let rows = module.outFeatures
        var a: [Float] = []
        a.reserveCapacity(inner * module.inFeatures)
        var b = [Float](unsafeUninitializedCapacity: rows * inner) { _, initialized in initialized = rows * inner }
        var offset = 0
        for input in inputs {
            let c = Float(input.weight * input.scaling)
            a.append(contentsOf: input.a.map { $0 * c })
            for i in 0..<rows { for j in 0..<input.rank { b[i * inner + offset + j] = input.b[i * input.rank + j] } }
            offset += input.rank
        }
        return MergedModule(
            path: module.path, rank: inner, inFeatures: module.inFeatures, outFeatures: rows, a: a, b: b,
            truncationError: nil, deltaNorm: nil)
    }

    /// The elementwise rule on the A's and, separately, on the B's, with c_i = w_i·s_i folded in as
    /// sign(c_i)·sqrt|c_i| on A and sqrt|c_i| on B (PEFT's factor-space path).
    private func factorSpace(_ inputs: [ModuleInput], rule: ElementwiseRule) -> MergedModule {
        let c = inputs.map { $0.weight * $0.scaling }
        let weightsA = c.map { Float(($0 < 0 ? -1 : 1) * abs($0).squareRoot()) }
        let weightsB = c.map { Float(abs($0).squareRoot()) }
        let a = combine(inputs.map(\.a), weights: weightsA, rule: rule, inputs: inputs, tensor: .loraA)
        let b = combine(inputs.map(\.b), weights: weightsB, rule: rule, inputs: inputs, tensor: .loraB)
        return MergedModule(
            path: module.path, rank: module.outputRank, inFeatures: module.inFeatures,
            outFeatures: module.outFeatures, a: a, b: b, truncationError: nil, deltaNorm: nil)
    }

    private func combine(
        _ tensors: [[Float]], weights: [Float], rule: ElementwiseRule, inputs: [ModuleInput], tensor: CounterRNG.Tensor
    ) -> [Float] {
        let density = request.density ?? 1
        let length = tensors[0].count
        var masks: [MagnitudeMask] = []
        var dares: [DAREMask] = []
        if rule.prunesByMagnitude {
            masks = tensors.map { values in
                MagnitudeMask(MagnitudeThreshold.find(k: MagnitudeThreshold.keepCount(density: density, numel: values.count), in: values))
            }
        } else if rule.usesDARE {
            dares = inputs.map { input in
                DAREMask(rng: CounterRNG(seed: request.seed, modulePath: module.path, input: input.index, tensor: tensor), density: Float(density))
            }
        }
        let combiner = ElementwiseCombiner(rule: rule, weights: weights, majoritySign: request.majoritySign)
        // Every entry is written by the combiner, so the output starts uninitialized.
        return [Float](unsafeUninitializedCapacity: length) { out, initialized in
            withBuffers(tensors) { buffers in
                if masks.isEmpty && dares.isEmpty {
                    combiner.combine(buffers, into: out)
                    return
                }
                // The masks work on cache-sized copies of each chunk (in row-major order, as they must), never on
                // whole copies of the factors.
                let step = ElementwiseCombiner.chunk
                let scratch = buffers.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: step) }
                defer { for block in scratch { block.deallocate() } }
                var c0 = 0
                while c0 < length {
                    let n = min(step, length - c0)
                    let views = buffers.indices.map { i in
                        let chunk = UnsafeMutableBufferPointer(start: scratch[i], count: n)
                        _ = chunk.initialize(from: UnsafeBufferPointer(rebasing: buffers[i][c0..<(c0 + n)]))
                        if !masks.isEmpty { masks[i].apply(chunk) } else { dares[i].apply(chunk, start: c0) }
                        return UnsafeBufferPointer(chunk)
                    }
                    combiner.combine(views, into: UnsafeMutableBufferPointer(rebasing: out[c0..<(c0 + n)]))
                    c0 += n
                }
            }
            initialized = length
        }
    }

    /// mergekit's slerp on each flattened tensor: lerp when the tensors are nearly colinear.
    private func slerp(_ inputs: [ModuleInput]) throws -> MergedModule {
        let t = request.t ?? 0.5
        let a = Self.slerp(inputs[0].a, inputs[1].a, t: t)
        let b = Self.slerp(inputs[0].b, inputs[1].b, t: t)
        return MergedModule(
            path: module.path, rank: module.outputRank, inFeatures: module.inFeatures,
            outFeatures: module.outFeatures, a: a, b: b, truncationError: nil, deltaNorm: nil)
    }

    static func slerp(_ x: [Float], _ y: [Float], t: Double) -> [Float] {
        var dot: Double = 0, nx: Double = 0, ny: Double = 0
        for i in x.indices {
            dot += Double(x[i]) * Double(y[i])
            nx += Double(x[i]) * Double(x[i])
            ny += Double(y[i]) * Double(y[i])
        }
        let denom = (nx * ny).squareRoot()
        let cosine = denom > 0 ? min(1, max(-1, dot / denom)) : 1
        let s0: Double, s1: Double
        if abs(cosine) > 0.9995 {
            s0 = 1 - t
            s1 = t
        } else {
            let theta = acos(cosine)
            let sinTheta = sin(theta)
            s0 = sin((1 - t) * theta) / sinTheta
            s1 = sin(t * theta) / sinTheta
        }
        return x.indices.map { Float(s0 * Double(x[$0]) + s1 * Double(y[$0])) }
    }
}

/// Calls `body` with buffer pointers to every array (arrays stay alive for the call).
func withBuffers<R>(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R {
    func recurse(_ index: Int, _ acc: [UnsafeBufferPointer<Float>]) throws -> R {
        if index == arrays.count { return try body(acc) }
        return try arrays[index].withUnsafeBufferPointer { try recurse(index + 1, acc + [$0]) }
    }
    return try recurse(0, [])
}
