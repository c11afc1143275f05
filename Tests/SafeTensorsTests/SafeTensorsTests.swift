import Foundation
import QuiverTesting
import SafeTensors
import Testing

/// Every `.safetensors` file under the PEFT golden fixtures.
let goldenSafeTensors: [URL] = {
    let enumerator = FileManager.default.enumerator(at: Fixtures.peftGolden, includingPropertiesForKeys: nil)
    var files: [URL] = []
    while let url = enumerator?.nextObject() as? URL {
        if url.pathExtension == "safetensors" { files.append(url) }
    }
    return files.sorted { $0.path < $1.path }
}()

@Suite("SafeTensors reading and writing")
struct SafeTensorsReadWriteTests {
    @Test("every golden fixture file opens and its tensors tile the data")
    func readsGoldenFiles() throws {
        #expect(goldenSafeTensors.count > 40)
        for url in goldenSafeTensors {
            let file = try SafeTensorsFile(contentsOf: url)
            #expect(!file.tensors.isEmpty)
            let dataBytes = file.tensors.reduce(0) { $0 + $1.byteCount }
            #expect(file.dataStart + dataBytes == file.fileSize)
            for tensor in file.tensors {
                let values = try file.floats(tensor.name)
                #expect(values.count == tensor.elementCount)
            }
        }
    }

    @Test("reading a PEFT-written file and writing it back gives identical bytes")
    func roundTripIsByteStable() throws {
        let directory = try Fixtures.temporaryDirectory("st-roundtrip")
        defer { try? FileManager.default.removeItem(at: directory) }
        for url in goldenSafeTensors {
            let file = try SafeTensorsFile(contentsOf: url)
            let copies = try file.tensors.map { try TensorToWrite(copying: $0.name, from: file) }
            let viaFloats = try file.tensors.map { TensorToWrite(name: $0.name, shape: $0.shape, values: try file.floats($0.name), dtype: $0.dtype) }
            let original = try Data(contentsOf: url)
            for (label, tensors) in [("raw", copies), ("floats", viaFloats)] {
                let out = directory.appendingPathComponent("\(label)-\(url.lastPathComponent)")
                try SafeTensorsWriter.write(tensors, metadata: file.metadata, to: out)
                #expect(try Data(contentsOf: out) == original, "\(label) round trip of \(url.path)")
            }
            // PEFT's files are already in the reference writer's order.
            #expect(SafeTensorsWriter.referenceOrder(copies).map(\.name) == copies.map(\.name), "\(url.path)")
        }
    }

    @Test("metadata, dtypes and shapes survive a write-then-read")
    func writeThenRead() throws {
        let directory = try Fixtures.temporaryDirectory("st-write")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("t.safetensors")
        let values: [Float] = [1, -2.5, 0.1, 65504, 1e-8, .infinity]
        let tensors = [
            TensorToWrite(name: "f32", shape: [2, 3], values: values, dtype: .F32),
            TensorToWrite(name: "f16", shape: [6], values: values, dtype: .F16),
            TensorToWrite(name: "bf16", shape: [3, 2], values: values, dtype: .BF16),
            TensorToWrite(name: "f64", shape: [6], values: values, dtype: .F64),
            TensorToWrite(name: "ids", shape: [2], dtype: .I64, rawBytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]),
            TensorToWrite(name: "scalar", shape: [], values: [3], dtype: .F32),
            TensorToWrite(name: "empty", shape: [0, 4], values: [], dtype: .F32),
        ]
        let metadata = ["format": "pt", "quote\"d": "new\nline ü", "a": ""]
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == metadata)
        #expect(file.tensors.map(\.name) == tensors.map(\.name))
        #expect(try file.floats("f32") == values)
        #expect(try file.floats("f64") == values)
        #expect(try file.floats("f16") == values.map { Float(Float16($0)) })
        #expect(try file.floats("bf16") == values.map { FloatConversion.float(bfloat16Bits: FloatConversion.bfloat16Bits($0)) })
        #expect(try file.floats("scalar") == [3])
        #expect(try file.floats("empty").isEmpty)
        #expect(file.info("bf16")?.shape == [3, 2])
        #expect(file.dataStart % 8 == 0)
        #expect(throws: SafeTensorsError(.notFloat, file: "", "")) { try file.floats("ids") }
        #expect(throws: SafeTensorsError(.tensorNotFound, file: "", "")) { try file.floats("missing") }
        // Python's reference reader would accept this header: check that it is the same JSON python produces.
        let header = try SafeTensorsWriter.headerBytes(tensors, metadata: metadata)
        #expect(header.count % 8 == 0)
    }

    @Test("the writer refuses inconsistent tensors")
    func writerValidates() throws {
        let directory = try Fixtures.temporaryDirectory("st-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.safetensors")
        let bad: [[TensorToWrite]] = [
            [TensorToWrite(name: "t", shape: [3], values: [1, 2])],
            [TensorToWrite(name: "t", shape: [1], values: [1]), TensorToWrite(name: "t", shape: [1], values: [1])],
            [TensorToWrite(name: "__metadata__", shape: [1], values: [1])],
            [TensorToWrite(name: "t", shape: [-1], values: [])],
            [TensorToWrite(name: "t", shape: [1], values: [1], dtype: .I32)],
            [TensorToWrite(name: "t", shape: [2], dtype: .I32, rawBytes: [0, 0, 0, 0])],
        ]
        for tensors in bad {
            #expect(throws: SafeTensorsError(.invalidTensorToWrite, file: "", "")) {
                try SafeTensorsWriter.write(tensors, metadata: [:], to: url)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}

@Suite("Float conversions")
struct FloatConversionTests {
    @Test("Float32 to BF16 rounds to nearest even like PyTorch", arguments: [
        (Float(bitPattern: 0x3F80_0000), UInt16(0x3F80)),
        (Float(bitPattern: 0x3F80_8000), UInt16(0x3F80)),  // tie, even stays
        (Float(bitPattern: 0x3F81_8000), UInt16(0x3F82)),  // tie, odd rounds up
        (Float(bitPattern: 0x3F80_8001), UInt16(0x3F81)),  // above the tie
        (Float(bitPattern: 0x3F80_7FFF), UInt16(0x3F80)),  // below the tie
        (Float(bitPattern: 0x7F7F_FFFF), UInt16(0x7F80)),  // largest float overflows to infinity
        (-Float.zero, UInt16(0x8000)),
        (Float.infinity, UInt16(0x7F80)),
        (-Float.infinity, UInt16(0xFF80)),
        (Float.nan, UInt16(0x7FC0)),
        (-Float.nan, UInt16(0x7FC0)),
        (Float(bitPattern: 0x7F80_0001), UInt16(0x7FC0)),  // signalling NaN
        (Float(bitPattern: 0x0000_0001), UInt16(0x0000)),  // smallest subnormal rounds to zero
    ])
    func bfloat16Rounding(value: Float, expected: UInt16) {
        #expect(FloatConversion.bfloat16Bits(value) == expected)
    }

    @Test("BF16 widening is exact for every bit pattern")
    func bfloat16Widening() {
        for bits in UInt16.min...UInt16.max {
            let value = FloatConversion.float(bfloat16Bits: bits)
            if value.isNaN { continue }
            #expect(FloatConversion.bfloat16Bits(value) == bits)
        }
    }
}
