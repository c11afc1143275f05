/// How faithfully a factor-space merge (PEFT's linear/ties/dare/magnitude_prune path) reproduces the exact sum of
/// the updates, for one module.
///
/// Factor-space methods combine the A's and, separately, the B's. Two adapters can have aligned dense updates
/// (Δ = B·A = (−B)·(−A)) while their factors are opposed in sign: the factor merge then cancels although the
/// dense cosine looks harmless. This measures that directly, from r×r Gram products, never forming a dense matrix.
struct FactorSpaceFidelity: Sendable {
    /// ⟨X, Y⟩ / ‖Y‖² with X = B_m A_m, PEFT's equal-weight linear factor merge, and Y = Σ c_i B_i A_i, the exact
    /// sum: the share of the exact update the factor merge keeps. About 1 for unrelated adapters (their cross
    /// terms B_i A_j are orthogonal noise), n for n identical ones, near 0 when opposed factors cancel.
    let retainedFraction: Double
    /// ‖X − Y‖_F / ‖Y‖_F: besides any cancellation, the cross-term noise (about 1 for two unrelated adapters).
    let relativeError: Double
    /// Fraction of factor entries (A and B together) where the inputs disagree in sign.
    let signConflictRate: Double
    /// ‖Σ c_i B_i A_i‖_F², to weigh modules when aggregating.
    let exactNormSquared: Double

    /// nil when the inputs' ranks differ (factor-space methods refuse such modules anyway) or fewer than two.
    static func measure(_ inputs: [ModuleInput], rows: Int, cols: Int) -> FactorSpaceFidelity? {
        guard inputs.count >= 2, let rank = inputs.first?.rank, inputs.allSatisfy({ $0.rank == rank }) else { return nil }
        let weight = 1 / Double(inputs.count)
        // PEFT's folding: c_i = w_i s_i; A gets sign(c_i)·sqrt|c_i|, B gets sqrt|c_i|.
        var mergedA = [Float](repeating: 0, count: rank * cols)
        var mergedB = [Float](repeating: 0, count: rows * rank)
        for input in inputs {
            let c = weight * input.scaling
            let wa = Float((c < 0 ? -1 : 1) * abs(c).squareRoot()), wb = Float(abs(c).squareRoot())
            for e in mergedA.indices { mergedA[e] += wa * input.a[e] }
            for e in mergedB.indices { mergedB[e] += wb * input.b[e] }
        }
        // Terms of X − Y with X = B_m A_m and Y = Σ c_i B_i A_i.
        var terms: [(b: [Float], a: [Float], coefficient: Double)] = [(mergedB, mergedA, 1)]
        for input in inputs { terms.append((input.b, input.a, -weight * input.scaling)) }
        func inner(_ p: Int, _ q: Int) -> Double {
            let bb = LinearAlgebra.multiply(terms[p].b, rows, rank, transA: true, terms[q].b, rows, rank)
            let aa = LinearAlgebra.multiply(terms[q].a, rank, cols, terms[p].a, rank, cols, transB: true)
            var trace: Double = 0
            for u in 0..<rank { for v in 0..<rank { trace += Double(bb[u * rank + v]) * Double(aa[v * rank + u]) } }
            return trace * terms[p].coefficient * terms[q].coefficient
        }
        var errorSquared: Double = 0, exactSquared: Double = 0, crossWithExact: Double = 0
        for p in terms.indices {
            for q in terms.indices {
                let value = inner(p, q)
                errorSquared += value
                if p > 0 && q > 0 { exactSquared += value }
                if p == 0 && q > 0 { crossWithExact -= value }  // ⟨X, −c_q B_q A_q⟩ summed: −⟨X, Y⟩
            }
        }
        guard exactSquared > 0 else {
            return FactorSpaceFidelity(
                retainedFraction: 1, relativeError: 0, signConflictRate: signConflicts(inputs), exactNormSquared: 0)
        }
        return FactorSpaceFidelity(
            retainedFraction: crossWithExact / exactSquared,
            relativeError: max(0, errorSquared).squareRoot() / exactSquared.squareRoot(),
            signConflictRate: signConflicts(inputs), exactNormSquared: exactSquared)
    }

    /// Entries of A and B where some inputs are positive and others negative, over entries where two or more are
    /// non-zero. The sign of a negative weight is not counted as a conflict: weights are equal here.
    private static func signConflicts(_ inputs: [ModuleInput]) -> Double {
        var compared = 0, conflicting = 0
        for factor in [\ModuleInput.a, \ModuleInput.b] {
            let count = inputs[0][keyPath: factor].count
            for e in 0..<count {
                var positive = 0, negative = 0
                for input in inputs {
                    let value = input[keyPath: factor][e]
                    if value > 0 { positive += 1 } else if value < 0 { negative += 1 }
                }
                if positive + negative >= 2 {
                    compared += 1
                    if positive > 0 && negative > 0 { conflicting += 1 }
                }
            }
        }
        return compared > 0 ? Double(conflicting) / Double(compared) : 0
    }
}
