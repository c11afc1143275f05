/// Builds D = rule(Δ_1..Δ_n; w) for one module, with Δ_i = s_i·B_i·A_i produced in row blocks, so that only
/// D and a few blocks are ever in memory (never the n dense Δ_i).
struct DenseDeltaBuilder {
    let request: MergeRequest
    let rule: ElementwiseRule
    let path: String
    let rows: Int
    let cols: Int
    let inputs: [ModuleInput]

    /// Rows per block: about a million floats per block and input.
    var blockRows: Int { max(1, min(rows, (1 << 20) / max(cols, 1))) }

    /// Writes rows [r0, r0+count) of Δ_i into `out` (count×cols).
    func deltaBlock(_ input: ModuleInput, r0: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        input.b.withUnsafeBufferPointer { pb in
            input.a.withUnsafeBufferPointer { pa in
                guard let b0 = pb.baseAddress, let a0 = pa.baseAddress else { return }
                LinearAlgebra.gemm(
                    m: count, n: cols, k: input.rank, alpha: Float(input.scaling),
                    a: b0 + r0 * input.rank, lda: input.rank, b: a0, ldb: cols, c: out, ldc: cols)
            }
        }
    }

    /// Calls `body` with each row block of Δ_i in order.
    func forEachBlock(of input: ModuleInput, _ body: (UnsafeBufferPointer<Float>) -> Void) {
        let step = blockRows
        var scratch = [Float](repeating: 0, count: step * cols)
        scratch.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var r0 = 0
            while r0 < rows {
                let count = min(step, rows - r0)
                deltaBlock(input, r0: r0, count: count, into: base)
                body(UnsafeBufferPointer(start: base, count: count * cols))
                r0 += count
            }
        }
    }

    func build() -> [Float] {
        let density = request.density ?? 1
        let numel = rows * cols
        var masks: [MagnitudeMask] = inputs.map { input in
            guard rule.prunesByMagnitude else { return MagnitudeMask(MagnitudeThreshold(mode: .keepAll)) }
            let k = MagnitudeThreshold.keepCount(density: density, numel: numel)
            return MagnitudeMask(MagnitudeThreshold.find(k: k, numel: numel) { forEachBlock(of: input, $0) })
        }
        let dares = inputs.map { input in
            DAREMask(
                rng: CounterRNG(seed: request.seed, modulePath: path, input: input.index, tensor: .delta),
                density: Float(density))
        }
        let combiner = ElementwiseCombiner(
            rule: rule, weights: inputs.map { Float($0.weight) }, majoritySign: request.majoritySign)
        let step = blockRows
        var dense = [Float](repeating: 0, count: numel)
        var scratch = inputs.map { _ in [Float](repeating: 0, count: step * cols) }
        var r0 = 0
        while r0 < rows {
            let count = min(step, rows - r0)
            let length = count * cols
            for i in inputs.indices {
                scratch[i].withUnsafeMutableBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return }
                    deltaBlock(inputs[i], r0: r0, count: count, into: base)
                    let block = UnsafeMutableBufferPointer(start: base, count: length)
                    if rule.prunesByMagnitude { masks[i].apply(block) }
                    if rule.usesDARE { dares[i].apply(block, start: r0 * cols) }
                }
            }
            withBuffers(scratch) { buffers in
                let views = buffers.map { UnsafeBufferPointer(rebasing: $0[0..<length]) }
                dense.withUnsafeMutableBufferPointer { out in
                    combiner.combine(views, into: UnsafeMutableBufferPointer(rebasing: out[(r0 * cols)..<(r0 * cols + length)]))
                }
            }
            r0 += count
        }
        return dense
    }
}
