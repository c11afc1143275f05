import Foundation

/// A rank-k factorization B·A of a merged delta, with the truncation error it leaves.
struct Truncation: Sendable {
    /// out×k, the singular values folded in (B = U_k · diag(S_k), as PEFT does).
    var b: [Float]
    /// k×in with orthonormal rows (A = V_kᵀ).
    var a: [Float]
    var rank: Int
    /// ||D||_F² of the delta being truncated.
    var normSquared: Double
    /// ||D − D_k||_F² (exact for the low-rank path, ||D||² − Σσ_k² for the randomized one).
    var errorSquared: Double

    /// Builds B = U[:, :k]·diag(S_k) and A = Vᵀ[:k, :] from a thin SVD with p columns, zero-padding to k.
    static func fromSVD(
        u: [Float], s: [Float], vt: [Float], rows: Int, cols: Int, p: Int, k: Int, normSquared: Double
    ) -> Truncation {
        var b = [Float](repeating: 0, count: rows * k)
        var a = [Float](repeating: 0, count: k * cols)
        let kept = min(k, p)
        for i in 0..<rows { for j in 0..<kept { b[i * k + j] = u[i * p + j] * s[j] } }
        for j in 0..<kept { for c in 0..<cols { a[j * cols + c] = vt[j * cols + c] } }
        var captured: Double = 0
        for j in 0..<kept { captured += Double(s[j]) * Double(s[j]) }
        return Truncation(b: b, a: a, rank: k, normSquared: normSquared, errorSquared: max(0, normSquared - captured))
    }

    /// The best rank-k approximation of Bc·Ac (Bc rows×R, Ac R×cols) without forming the dense product:
    /// QR of Bc and of Acᵀ, then the SVD of the R×R core Rb·Raᵀ.
    static func ofProduct(b bc: [Float], a ac: [Float], rows: Int, cols: Int, inner: Int, k: Int) throws -> Truncation {
        if inner > rows || inner > cols {
            let dense = LinearAlgebra.multiply(bc, rows, inner, ac, inner, cols)
            return try exact(dense: dense, rows: rows, cols: cols, k: k)
        }
        var qb = bc
        let rb = try LinearAlgebra.qr(&qb, rows: rows, cols: inner)
        var qa = LinearAlgebra.transpose(ac, rows: inner, cols: cols)
        let ra = try LinearAlgebra.qr(&qa, rows: cols, cols: inner)
        let core = LinearAlgebra.multiply(rb, inner, inner, ra, inner, inner, transB: true)
        let (u, s, vt) = try LinearAlgebra.svd(core, rows: inner, cols: inner)
        let kept = min(k, inner)
        // B' = Qb · U_k · diag(S_k); A' = V_kᵀ · Qaᵀ.
        var us = [Float](repeating: 0, count: inner * kept)
        for i in 0..<inner { for j in 0..<kept { us[i * kept + j] = u[i * inner + j] * s[j] } }
        let bk = LinearAlgebra.multiply(qb, rows, inner, us, inner, kept)
        let vtk = Array(vt[0..<(kept * inner)])
        let ak = LinearAlgebra.multiply(vtk, kept, inner, qa, cols, inner, transB: true)
        var total: Double = 0, captured: Double = 0
        for (j, x) in s.enumerated() {
            total += Double(x) * Double(x)
            if j < kept { captured += Double(x) * Double(x) }
        }
        var b = [Float](repeating: 0, count: rows * k)
        var a = [Float](repeating: 0, count: k * cols)
        for i in 0..<rows { for j in 0..<kept { b[i * k + j] = bk[i * kept + j] } }
        a.replaceSubrange(0..<(kept * cols), with: ak)
        return Truncation(b: b, a: a, rank: k, normSquared: total, errorSquared: total - captured)
    }

    /// The optimal rank-k truncation of a dense rows×cols matrix by a full thin SVD.
    static func exact(dense: [Float], rows: Int, cols: Int, k: Int) throws -> Truncation {
        let norm = dense.withUnsafeBufferPointer(LinearAlgebra.normSquared)
        let (u, s, vt) = try LinearAlgebra.svd(dense, rows: rows, cols: cols)
        return fromSVD(u: u, s: s, vt: vt, rows: rows, cols: cols, p: min(rows, cols), k: k, normSquared: norm)
    }

    /// A rank-k truncation of a dense matrix by a randomized range finder (Halko, Martinsson, Tropp) with
    /// oversampling and power iterations; small matrices get the exact SVD instead.
    ///
    /// `signalRank` is the inputs' total rank Σ r_i: a trimmed sum of low-rank deltas is a rank-Σr_i signal plus
    /// a flat tail, and a sketch narrower than the signal misses part of the top k when its singular values are
    /// close (measured: 0.4 % above optimal with a sketch of k + 10 < Σr_i, 1e-6 with Σr_i + 10).
    static func randomized(
        dense: [Float], rows: Int, cols: Int, k: Int, signalRank: Int, rng: CounterRNG, powerIterations: Int = 1
    ) throws -> Truncation {
        let p = min(rows, cols)
        let l = min(p, max(k, signalRank) + 10)
        if p <= 256 || l * 2 >= p {
            return try exact(dense: dense, rows: rows, cols: cols, k: k)
        }
        let norm = dense.withUnsafeBufferPointer(LinearAlgebra.normSquared)
        var omega = [Float](repeating: 0, count: cols * l)
        for i in omega.indices { omega[i] = rng.normal(i) }
        var y = LinearAlgebra.multiply(dense, rows, cols, omega, cols, l)
        _ = try LinearAlgebra.qr(&y, rows: rows, cols: l)
        for _ in 0..<powerIterations {
            var z = LinearAlgebra.multiply(dense, rows, cols, transA: true, y, rows, l)
            _ = try LinearAlgebra.qr(&z, rows: cols, cols: l)
            y = LinearAlgebra.multiply(dense, rows, cols, z, cols, l)
            _ = try LinearAlgebra.qr(&y, rows: rows, cols: l)
        }
        let small = LinearAlgebra.multiply(y, rows, l, transA: true, dense, rows, cols)
        let (us, s, vt) = try LinearAlgebra.svd(small, rows: l, cols: cols)
        let u = LinearAlgebra.multiply(y, rows, l, us, l, l)
        return fromSVD(u: u, s: s, vt: vt, rows: rows, cols: cols, p: l, k: k, normSquared: norm)
    }
}
