import Foundation

/// The arithmetic a dense-SVD merge (`ties_svd`, `dare_ties_svd`, …) cannot avoid, and how fast this machine's
/// BLAS does it: the floor `QuiverBench svd-floor` reports. Per module (out × in, inputs of ranks r_i, output rank
/// k) the merge forms every dense update (2·out·in·r_i flops each) and runs the randomized range finder of
/// ``Truncation`` with sketch width l = min(out, in, max(k, Σr_i) + 10) and one power iteration: four products with
/// the dense matrix (8·out·in·l) and the small ones around them (2·out·l² for U, 4·l²·(out + in) for the QRs).
/// Elementwise work (trimming, sign election, masks), reading and writing are not counted.
public enum ComputeFloor {
    /// Floating-point operations of one module's dense products and randomized SVD.
    public static func denseSVDFlops(rows: Int, cols: Int, inputRanks: [Int], outputRank: Int, powerIterations: Int = 1) -> Double {
        let m = Double(rows), n = Double(cols)
        let p = min(rows, cols)
        let l = Double(min(p, max(outputRank, inputRanks.reduce(0, +)) + 10))
        let deltas = inputRanks.reduce(0.0) { $0 + 2 * m * n * Double($1) }
        let products = Double(2 + 2 * powerIterations) * 2 * m * n * l
        let small = 2 * m * l * l + Double(1 + 2 * powerIterations) * 4 * l * l * max(m, n)
        return deltas + products + small
    }

    /// This machine's single-threaded sgemm rate (flop/s) on an m×k · k×n product (OpenBLAS, as the merge calls
    /// it): the best of at least `runs` products and of every product started within `seconds`. A floor is what the
    /// machine does at its best: on a shared host a core can run at half its rate for a moment (another tenant on
    /// the same physical core): three products back to back (half a second) once measured 13.3 GFLOP/s where the
    /// two runs before had 25.9 and 25.8, and put every *_svd merge below its floor (0.64-0.87×, docs/benchmarks.md,
    /// seventeenth session). Measuring over a few seconds rides out such a moment.
    public static func sgemmRate(m: Int, n: Int, k: Int, runs: Int = 3, seconds: Double = 3) throws -> Double {
        try LinearAlgebra.require()
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
        var best = Double.infinity
        let began = DispatchTime.now().uptimeNanoseconds
        var done = 0
        while done < max(1, runs) || Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9 < seconds {
            let start = DispatchTime.now().uptimeNanoseconds
            let c = LinearAlgebra.multiply(a, m, k, b, k, n)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            precondition(c.count == m * n)
            done += 1
        }
        return 2 * Double(m) * Double(n) * Double(k) / best
    }
}
