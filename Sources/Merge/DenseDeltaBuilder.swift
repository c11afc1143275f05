/// Builds D = rule(Δ_1..Δ_n; w) for one module, with Δ_i = s_i·B_i·A_i produced in row blocks, so that only
/// D and a few blocks are ever in memory (never the n dense Δ_i).
struct DenseDeltaBuilder {
    let request: MergeRequest
    let rule: ElementwiseRule
    let path: String
    let rows: Int
    let cols: Int
    let inputs: [ModuleInput]

    /// Entries masked and combined at a time (with three inputs, the chunks and the combiner's work arrays
    /// stay within a 512 KB L2 cache).
    static let chunk = 1 << 14

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

    /// Entries of Δ_i at random positions (dot products of a row of B_i and a column of A_i), to bracket the
    /// magnitude threshold; empty for small modules, where two passes cost little.
    func sample(of input: ModuleInput, count: Int = 1 << 16) -> [Float] {
        guard rows * cols >= 16 * count else { return [] }
        let rng = CounterRNG(seed: 0, modulePath: path, input: input.index, tensor: .sample)
        let rank = input.rank, scaling = Float(input.scaling)
        return input.b.withUnsafeBufferPointer { b in
            input.a.withUnsafeBufferPointer { a in
                (0..<count).map { n in
                    let bits = rng.bits(n)
                    let r = Int(bits & 0xFFFF_FFFF) % rows, c = Int(bits &>> 32) % cols
                    var sum: Float = 0
                    for t in 0..<rank { sum += b[r * rank + t] * a[t * cols + c] }
                    return scaling * sum
                }
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

    /// Calls `body` with tiles of Δ_i that together hold every entry once, in no particular order: for passes that
    /// only count (the magnitude threshold's). A tile is about 64K entries (a column panel of ≤ 2,048 columns, as
    /// many rows as fit), so `body` reads it from the L2 cache the product just wrote it to; panels go outermost,
    /// so A_i's panel stays cached across the row tiles. Each entry is the same product of a row of B_i and a
    /// column of A_i as in ``deltaBlock(_:r0:count:into:)``.
    func forEachTile(of input: ModuleInput, _ body: (UnsafeBufferPointer<Float>) -> Void) {
        let tileCols = min(cols, 2048)
        let tileRows = max(1, min(rows, (1 << 16) / max(tileCols, 1)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * tileCols)
        defer { scratch.deallocate() }
        input.b.withUnsafeBufferPointer { pb in
            input.a.withUnsafeBufferPointer { pa in
                guard let b0 = pb.baseAddress, let a0 = pa.baseAddress else { return }
                var c0 = 0
                while c0 < cols {
                    let width = min(tileCols, cols - c0)
                    var r0 = 0
                    while r0 < rows {
                        let height = min(tileRows, rows - r0)
                        LinearAlgebra.gemm(
                            m: height, n: width, k: input.rank, alpha: Float(input.scaling),
                            a: b0 + r0 * input.rank, lda: input.rank, b: a0 + c0, ldb: cols, c: scratch, ldc: width)
                        body(UnsafeBufferPointer(start: scratch, count: height * width))
                        r0 += height
                    }
                    c0 += width
                }
            }
        }
    }

    /// D, in a buffer from `buffers` (whose every entry is written here).
    func build(buffers: DenseBufferPool = DenseBufferPool()) -> [Float] {
        let density = request.density ?? 1
        let numel = rows * cols
        var masks: [MagnitudeMask] = inputs.map { input in
            guard rule.prunesByMagnitude else { return MagnitudeMask(MagnitudeThreshold(mode: .keepAll)) }
            let k = MagnitudeThreshold.keepCount(density: density, numel: numel)
            // Finding the threshold only counts, so it reads Δ_i in cache-sized tiles; the masks below see it in
            // row-major order.
            return MagnitudeMask(MagnitudeThreshold.find(k: k, numel: numel, sample: sample(of: input)) {
                forEachTile(of: input, $0)
            })
        }
        let dares = inputs.map { input in
            DAREMask(
                rng: CounterRNG(seed: request.seed, modulePath: path, input: input.index, tensor: .delta),
                density: Float(density))
        }
        let combiner = ElementwiseCombiner(
            rule: rule, weights: inputs.map { Float($0.weight) }, majoritySign: request.majoritySign)
        let step = blockRows
        // Every entry is written by the combiner, so D starts uninitialized (no 180 MB zero fill), in the buffer of
        // an earlier module of the same size when there is one (no fresh pages to fault in).
        var dense = buffers.take(count: numel)
        let scratch = inputs.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: step * cols) }
        defer { for block in scratch { block.deallocate() } }
        var r0 = 0
        while r0 < rows {
            let count = min(step, rows - r0)
            let length = count * cols
            for i in inputs.indices { deltaBlock(inputs[i], r0: r0, count: count, into: scratch[i]) }
            // Masking and combining run on cache-sized chunks of the block: the several passes they make over
            // each chunk then hit the cache, not memory. Masks see the entries in row-major order, as they must.
            dense.withUnsafeMutableBufferPointer { out in
                var c0 = 0
                while c0 < length {
                    let c1 = min(c0 + Self.chunk, length)
                    let views = inputs.indices.map { i in
                        let chunk = UnsafeMutableBufferPointer(start: scratch[i] + c0, count: c1 - c0)
                        if rule.prunesByMagnitude { masks[i].apply(chunk) }
                        if rule.usesDARE { dares[i].apply(chunk, start: r0 * cols + c0) }
                        return UnsafeBufferPointer(chunk)
                    }
                    combiner.combine(views, into: UnsafeMutableBufferPointer(rebasing: out[(r0 * cols + c0)..<(r0 * cols + c1)]))
                    c0 = c1
                }
            }
            r0 += count
        }
        return dense
    }
}
