import Foundation
import Testing
@testable import Merge

/// The compute floor `QuiverBench svd-floor` reports: the flops of a dense-SVD merge, and the sgemm rate they are
/// divided by.
@Suite("ComputeFloor")
struct ComputeFloorTests {
    @Test func flopsCountTheDenseUpdatesTheSketchProductsAndTheSmallFactorizations() {
        // 100 × 50, inputs of ranks 4 and 6, output rank 8: sketch width l = min(50, max(8, 10) + 10) = 20.
        // Dense updates 2·100·50·(4 + 6) = 100,000; four products with the dense matrix 4·2·100·50·20 = 800,000;
        // U and three QRs 2·100·20² + 3·4·20²·100 = 560,000.
        #expect(ComputeFloor.denseSVDFlops(rows: 100, cols: 50, inputRanks: [4, 6], outputRank: 8) == 1_460_000)
        // Without the power iteration: two products (400,000) and one QR (160,000) instead.
        #expect(ComputeFloor.denseSVDFlops(rows: 100, cols: 50, inputRanks: [4, 6], outputRank: 8, powerIterations: 0) == 740_000)
    }

    @Test func theSketchIsNeverWiderThanTheMatrix() {
        // 30 × 12 with ranks 8 + 8: max(4, 16) + 10 = 26 columns would be wider than 12, so l = 12.
        let flops = ComputeFloor.denseSVDFlops(rows: 30, cols: 12, inputRanks: [8, 8], outputRank: 4)
        let l = 12.0
        #expect(flops == 2 * 30 * 12 * 16 + 4 * 2 * 30 * 12 * l + 2 * 30 * l * l + 3 * 4 * l * l * 30)
    }

    @Test func theSgemmRateIsTheBestProductOverTheWholeWindow() throws {
        // One product of this size takes microseconds: `runs: 1` alone would stop after it; the window keeps
        // measuring, so a moment when the core ran slow cannot set the floor.
        let start = DispatchTime.now().uptimeNanoseconds
        let rate = try ComputeFloor.sgemmRate(m: 64, n: 16, k: 64, runs: 1, seconds: 0.3)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(elapsed >= 0.3)
        #expect(rate.isFinite && rate > 0)
    }
}
