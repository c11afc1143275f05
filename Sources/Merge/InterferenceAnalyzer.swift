import Foundation

/// Computes an `InterferenceReport` from the inputs' factors, module by module, never materializing more than
/// a row block of a dense update per input.
public enum InterferenceAnalyzer {
    /// - Parameters:
    ///   - inputs: descriptors of the adapters to compare.
    ///   - trimDensity: fraction of each delta kept before counting sign conflicts (0.2, like TIES).
    ///   - factors: reads one module of one input.
    public static func analyze(
        inputs: [MergeInputDescriptor], trimDensity: Double = 0.2, threads: Int? = nil,
        factors: MergeEngine.FactorLoader
    ) throws -> InterferenceReport {
        guard trimDensity >= 0, trimDensity <= 1 else {
            throw MergeError(.badParameter, "trim density \(trimDensity) is outside [0, 1]", hint: "use 0.2")
        }
        guard !inputs.isEmpty else {
            throw MergeError(.noInputs, "nothing to check", hint: "pass two or more adapter directories")
        }
        let groups = try MergeCompatibility.groupModules(inputs)
        let modules = try MergeEngine.forEachModule(count: groups.count, threads: threads) { index in
            let (path, members) = groups[index]
            var loaded: [ModuleInput] = []
            for member in members {
                let (a, b) = try factors(member.index, path)
                try MergeEngine.checkFactors(a: a, b: b, module: member.module, input: inputs[member.index].name)
                loaded.append(ModuleInput(
                    index: member.index, a: a, b: b, rank: member.module.rank, scaling: member.module.scaling, weight: 1))
            }
            return try analyzeModule(
                path: path, rows: members[0].module.outFeatures, cols: members[0].module.inFeatures,
                inputs: loaded, trimDensity: trimDensity)
        }
        return summarize(inputs: inputs, modules: modules, trimDensity: trimDensity)
    }

    static func analyzeModule(
        path: String, rows: Int, cols: Int, inputs: [ModuleInput], trimDensity: Double
    ) throws -> ModuleInterference {
        var pairs: [PairInterference] = []
        for i in inputs.indices {
            for j in inputs.indices where j > i {
                pairs.append(try pair(inputs[i], inputs[j], rows: rows, cols: cols))
            }
        }
        var compared = 0, conflicting = 0
        if inputs.count >= 2 {
            (compared, conflicting) = signConflicts(path: path, rows: rows, cols: cols, inputs: inputs, density: trimDensity)
        }
        let fidelity = FactorSpaceFidelity.measure(inputs, rows: rows, cols: cols)
        return ModuleInterference(
            path: path, inputs: inputs.map(\.index),
            signConflictRate: compared > 0 ? Double(conflicting) / Double(compared) : nil,
            comparedEntries: compared, conflictingEntries: conflicting, pairs: pairs,
            factorMergeRetention: fidelity?.retainedFraction, factorMergeRelativeError: fidelity?.relativeError, factorSignConflictRate: fidelity?.signConflictRate,
            exactNormSquared: fidelity?.exactNormSquared ?? 0)
    }

    /// <Δ_i, Δ_j> = s_i s_j tr((B_iᵀB_j)(A_jA_iᵀ)) from r×r products, and principal angles via QR + SVD.
    static func pair(_ x: ModuleInput, _ y: ModuleInput, rows: Int, cols: Int) throws -> PairInterference {
        func inner(_ p: ModuleInput, _ q: ModuleInput) -> Double {
            let bb = LinearAlgebra.multiply(p.b, rows, p.rank, transA: true, q.b, rows, q.rank)  // r_p×r_q
            let aa = LinearAlgebra.multiply(q.a, q.rank, cols, p.a, p.rank, cols, transB: true)  // r_q×r_p
            var trace: Double = 0
            for u in 0..<p.rank { for v in 0..<q.rank { trace += Double(bb[u * q.rank + v]) * Double(aa[v * p.rank + u]) } }
            return trace * p.scaling * q.scaling
        }
        let dot = inner(x, y), nx = inner(x, x), ny = inner(y, y)
        let cosine = nx > 0 && ny > 0 ? dot / (nx * ny).squareRoot() : 0
        var overlap = 0.0, maxCos = 0.0
        if x.rank <= rows && y.rank <= rows {
            var qx = x.b, qy = y.b
            _ = try LinearAlgebra.qr(&qx, rows: rows, cols: x.rank)
            _ = try LinearAlgebra.qr(&qy, rows: rows, cols: y.rank)
            let m = LinearAlgebra.multiply(qx, rows, x.rank, transA: true, qy, rows, y.rank)
            let s = try LinearAlgebra.svd(m, rows: x.rank, cols: y.rank).s
            overlap = s.reduce(0) { $0 + Double($1) * Double($1) } / Double(min(x.rank, y.rank))
            maxCos = Double(s.first ?? 0)
        }
        return PairInterference(
            first: x.index, second: y.index, cosine: cosine, subspaceOverlap: min(1, overlap),
            maxPrincipalCosine: min(1, maxCos), dot: dot, normSquaredFirst: nx, normSquaredSecond: ny)
    }

    /// Counts entries with two or more kept contributions, and those among them whose signs disagree.
    static func signConflicts(
        path: String, rows: Int, cols: Int, inputs: [ModuleInput], density: Double
    ) -> (compared: Int, conflicting: Int) {
        let builder = DenseDeltaBuilder(
            request: MergeRequest(method: .ties, density: density), rule: .ties, path: path, rows: rows, cols: cols,
            inputs: inputs)
        let numel = rows * cols
        let k = MagnitudeThreshold.keepCount(density: density, numel: numel)
        var masks = inputs.map { input in
            MagnitudeMask(MagnitudeThreshold.find(k: k, numel: numel) { builder.forEachBlock(of: input, $0) })
        }
        let step = builder.blockRows
        var scratch = inputs.map { _ in [Float](repeating: 0, count: step * cols) }
        var compared = 0, conflicting = 0
        var r0 = 0
        while r0 < rows {
            let count = min(step, rows - r0)
            let length = count * cols
            for i in inputs.indices {
                scratch[i].withUnsafeMutableBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return }
                    builder.deltaBlock(inputs[i], r0: r0, count: count, into: base)
                    masks[i].apply(UnsafeMutableBufferPointer(start: base, count: length))
                }
            }
            for e in 0..<length {
                var positive = 0, negative = 0
                for i in inputs.indices {
                    let v = scratch[i][e]
                    if v > 0 { positive += 1 } else if v < 0 { negative += 1 }
                }
                if positive + negative >= 2 {
                    compared += 1
                    if positive > 0 && negative > 0 { conflicting += 1 }
                }
            }
            r0 += count
        }
        return (compared, conflicting)
    }

    static func summarize(
        inputs: [MergeInputDescriptor], modules: [ModuleInterference], trimDensity: Double
    ) -> InterferenceReport {
        let compared = modules.map(\.comparedEntries).reduce(0, +)
        let conflicting = modules.map(\.conflictingEntries).reduce(0, +)
        let rate: Double? = compared > 0 ? Double(conflicting) / Double(compared) : nil
        var pairs: [PairInterference] = []
        for i in inputs.indices {
            for j in inputs.indices where j > i {
                let matching = modules.flatMap(\.pairs).filter { $0.first == i && $0.second == j }
                guard !matching.isEmpty else { continue }
                let dot = matching.map(\.dot).reduce(0, +)
                let nx = matching.map(\.normSquaredFirst).reduce(0, +)
                let ny = matching.map(\.normSquaredSecond).reduce(0, +)
                let count = Double(matching.count)
                pairs.append(PairInterference(
                    first: i, second: j, cosine: nx > 0 && ny > 0 ? dot / (nx * ny).squareRoot() : 0,
                    subspaceOverlap: matching.map(\.subspaceOverlap).reduce(0, +) / count,
                    maxPrincipalCosine: matching.map(\.maxPrincipalCosine).max() ?? 0,
                    dot: dot, normSquaredFirst: nx, normSquaredSecond: ny))
            }
        }
        let measured = modules.filter { $0.factorMergeRetention != nil }
        let exactTotal = measured.map(\.exactNormSquared).reduce(0, +)
        func aggregate(_ value: (ModuleInterference) -> Double) -> Double? {
            measured.isEmpty || exactTotal <= 0 ? nil : measured.map { value($0) * $0.exactNormSquared }.reduce(0, +) / exactTotal
        }
        let factorRetention = aggregate { $0.factorMergeRetention ?? 1 }
        let factorError = aggregate { pow($0.factorMergeRelativeError ?? 0, 2) }.map { $0.squareRoot() }
        let factorConflicts: Double? = measured.isEmpty ? nil
            : measured.map { $0.factorSignConflictRate ?? 0 }.reduce(0, +) / Double(measured.count)
        let (risk, verdict) = judge(
            pairs: pairs, conflictRate: rate, factorRetention: factorRetention, factorConflicts: factorConflicts,
            inputs: inputs.map(\.name))
        return InterferenceReport(
            trimDensity: trimDensity, inputs: inputs.map(\.name), modules: modules, signConflictRate: rate,
            pairs: pairs, factorMergeRetention: factorRetention, factorMergeRelativeError: factorError,
            factorSignConflictRate: factorConflicts,
            risk: risk, verdict: verdict)
    }

    /// Linear merges cancel where updates point in opposite directions: a negative cosine is the direct sign;
    /// a sign-conflict rate above one half (chance for unrelated updates) is the elementwise one. Factor-space
    /// merges (PEFT's linear, ties, dare, magnitude_prune) also cancel when the factors oppose each other, even
    /// where the dense updates agree: judged by the share of the exact sum the factor merge keeps.
    static func judge(
        pairs: [PairInterference], conflictRate: Double?, factorRetention: Double?, factorConflicts: Double?,
        inputs: [String]
    ) -> (InterferenceReport.Risk, String) {
        guard let worst = pairs.min(by: { $0.cosine < $1.cosine }) else {
            return (.low, "nothing to compare: the inputs share no adapted module")
        }
        if worst.cosine >= -0.3, let factorRetention, factorRetention < 0.5 {
            let kept = Int((factorRetention * 100).rounded())
            let flipped = factorConflicts.map { ", \(Int(($0 * 100).rounded()))% of factor entries disagree in sign" } ?? ""
            return (.high, "high risk for factor-space merges: merging the A and B factors separately (linear, ties, "
                + "dare_*, magnitude_prune) keeps only \(kept)% of the exact sum of the updates\(flipped). "
                + "Use a delta-space method (cat, svd or the *_svd variants), which merges B·A itself")
        }
        let names = "\(inputs[worst.first]) and \(inputs[worst.second])"
        let cosine = (worst.cosine * 1000).rounded() / 1000
        let conflicts = conflictRate.map { "; \(Int(($0 * 100).rounded()))% of the overlapping kept entries disagree in sign" } ?? ""
        if worst.cosine < -0.3 {
            return (.high, "high risk: \(names) point in opposite directions (cosine \(cosine)); a linear merge "
                + "will largely cancel them\(conflicts). Use ties, or cat to keep both")
        }
        if worst.cosine < -0.05 || (conflictRate ?? 0) > 0.55 {
            return (.moderate, "moderate risk: \(names) partly oppose each other (cosine \(cosine))\(conflicts). "
                + "Consider ties or dare_ties, or cat")
        }
        return (.low, "low risk: the updates are unrelated or aligned (lowest cosine \(cosine), \(names))"
            + "\(conflicts); a linear merge should not cancel them")
    }
}
