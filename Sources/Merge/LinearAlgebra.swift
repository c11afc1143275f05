import CLinearAlgebra

/// Thin row-major wrappers over OpenBLAS and LAPACKE (loaded on first use, single-threaded: CLinearAlgebra's shim).
/// Matrices are `[Float]` in row-major order.
enum LinearAlgebra {
    /// Loads the libraries if needed; a named error when they cannot be loaded. Every merge that may reach BLAS
    /// calls this before its workers start, so the other wrappers never meet a missing library.
    static func require() throws {
        if let error = quiver_linear_algebra_load() {
            throw MergeError(
                .linearAlgebra, "OpenBLAS/LAPACKE could not be loaded: \(String(cString: error))",
                hint: "install libopenblas0 and liblapacke (apt-get install libopenblas0 liblapacke)")
        }
    }

    /// C = alpha · op(A) · op(B) + beta · C, with op(A) m×k and op(B) k×n.
    static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        quiver_cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Product of whole row-major matrices: op(A) · op(B).
    static func multiply(
        _ a: [Float], _ aRows: Int, _ aCols: Int, transA: Bool = false,
        _ b: [Float], _ bRows: Int, _ bCols: Int, transB: Bool = false, alpha: Float = 1
    ) -> [Float] {
        let m = transA ? aCols : aRows, k = transA ? aRows : aCols
        let n = transB ? bRows : bCols
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    guard let a0 = pa.baseAddress, let b0 = pb.baseAddress, let c0 = pc.baseAddress else { return }
                    gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         a: a0, lda: aCols, b: b0, ldb: bCols, c: c0, ldc: n)
                }
            }
        }
        return c
    }

    /// Thin QR of a rows×cols matrix (rows ≥ cols): replaces `a` by Q and returns R (cols×cols, upper).
    static func qr(_ a: inout [Float], rows: Int, cols: Int) throws -> [Float] {
        try require()
        precondition(rows >= cols && a.count == rows * cols)
        var tau = [Float](repeating: 0, count: cols)
        var r = [Float](repeating: 0, count: cols * cols)
        let info1 = quiver_lapacke_sgeqrf(LAPACK_ROW_MAJOR, Int32(rows), Int32(cols), &a, Int32(cols), &tau)
        guard info1 == 0 else { throw lapackError("sgeqrf", info1) }
        for i in 0..<cols { for j in i..<cols { r[i * cols + j] = a[i * cols + j] } }
        let info2 = quiver_lapacke_sorgqr(LAPACK_ROW_MAJOR, Int32(rows), Int32(cols), Int32(cols), &a, Int32(cols), &tau)
        guard info2 == 0 else { throw lapackError("sorgqr", info2) }
        return r
    }

    /// Thin SVD A = U · diag(S) · Vᵀ of a rows×cols matrix; p = min(rows, cols), U rows×p, Vᵀ p×cols.
    static func svd(_ a: [Float], rows: Int, cols: Int) throws -> (u: [Float], s: [Float], vt: [Float]) {
        try require()
        let p = min(rows, cols)
        var work = a
        var s = [Float](repeating: 0, count: p)
        var u = [Float](repeating: 0, count: rows * p)
        var vt = [Float](repeating: 0, count: p * cols)
        let info = quiver_lapacke_sgesdd(
            LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(rows), Int32(cols), &work, Int32(cols),
            &s, &u, Int32(p), &vt, Int32(cols))
        guard info == 0 else { throw lapackError("sgesdd", info) }
        return (u, s, vt)
    }

    static func transpose(_ a: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: a.count)
        for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = a[i * cols + j] } }
        return t
    }

    /// Σ x², accumulated in Double (BLAS dsdot, in chunks that fit its 32-bit length).
    static func normSquared(_ a: UnsafeBufferPointer<Float>) -> Double {
        guard let base = a.baseAddress else { return 0 }
        var sum: Double = 0
        var start = 0
        while start < a.count {
            let n = min(a.count - start, 1 << 30)
            sum += quiver_cblas_dsdot(Int32(n), base + start, 1, base + start, 1)
            start += n
        }
        return sum
    }

    static func lapackError(_ routine: String, _ info: Int32) -> MergeError {
        MergeError(
            .linearAlgebra, "LAPACK \(routine) failed (info \(info))",
            hint: "the inputs may be degenerate; check them with `quiver check`")
    }
}
