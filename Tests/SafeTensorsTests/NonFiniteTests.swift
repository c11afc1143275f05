import Foundation
import QuiverTesting
import SafeTensors
import Testing

@Suite("NaN and Inf detection")
struct NonFiniteTests {
    private func file(_ tensors: [TensorToWrite]) throws -> SafeTensorsFile {
        let url = try Fixtures.temporaryDirectory("nonfinite").appendingPathComponent("t.safetensors")
        try SafeTensorsWriter.write(tensors, metadata: [:], to: url)
        return try SafeTensorsFile(contentsOf: url)
    }

    @Test("finds the first NaN or Inf in every float dtype, with its index and kind",
          arguments: [DType.F32, .F16, .BF16, .F64])
    func findsNonFinite(dtype: DType) throws {
        // 10,000 elements span several 4,096-element blocks; the bad value sits in the third.
        var values = (0..<10_000).map { Float($0 % 97) * 0.01 - 0.4 }
        let clean = try file([TensorToWrite(name: "a", shape: [100, 100], values: values, dtype: dtype)])
        #expect(clean.firstNonFinite() == nil)
        for (bad, spelled) in [(Float.nan, "NaN"), (Float.infinity, "+Inf"), (-Float.infinity, "-Inf")] {
            values[9_001] = bad
            let damaged = try file([TensorToWrite(name: "a", shape: [100, 100], values: values, dtype: dtype)])
            #expect(damaged.firstNonFinite() == NonFiniteValue(tensor: "a", index: 9_001, value: spelled))
        }
    }

    @Test("largest finite values are not flagged, and tensors after an odd-sized F16 one are read unaligned")
    func boundariesAndAlignment() throws {
        let edge = try file([
            TensorToWrite(name: "a_half", shape: [3], values: [65504, -65504, 0], dtype: .F16),
            TensorToWrite(name: "b_float", shape: [2], values: [Float.greatestFiniteMagnitude, -Float.leastNonzeroMagnitude]),
        ])
        #expect(edge.firstNonFinite() == nil)
        let bad = try file([
            TensorToWrite(name: "a_half", shape: [3], values: [1, 2, 3], dtype: .F16),
            TensorToWrite(name: "b_float", shape: [2], values: [1, .nan]),
        ])
        #expect(bad.firstNonFinite() == NonFiniteValue(tensor: "b_float", index: 1, value: "NaN"))
    }
}
