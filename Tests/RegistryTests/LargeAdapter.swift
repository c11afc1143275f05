import Foundation
import QuiverTesting
import SafeTensors

/// A PEFT directory whose weights lie above the multipart threshold and span several SHA-256 chain strides: four
/// r=8 modules 81,920 wide, 20 MiB of F32 (seeded, so every call writes the same bytes).
enum LargeAdapter {
    /// Writes the directory `large` inside `scratch` and returns it.
    static func write(in scratch: URL) throws -> URL {
        let large = scratch.appendingPathComponent("large", isDirectory: true)
        try FileManager.default.createDirectory(at: large, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: RegistryFixture.golden("a1").appendingPathComponent("adapter_config.json"),
                                         to: large.appendingPathComponent("adapter_config.json"))
        var state: UInt32 = 12_345
        let width = 81_920
        let tensors = (0..<2).flatMap { layer in ["q_proj", "v_proj"].flatMap { module -> [TensorToWrite] in
            let prefix = "base_model.model.model.layers.\(layer).self_attn.\(module)"
            return [("lora_A", [8, width]), ("lora_B", [width, 8])].map { part, shape in
                TensorToWrite(name: "\(prefix).\(part).weight", shape: shape, values: (0..<(8 * width)).map { _ in
                    state = state &* 1_664_525 &+ 1_013_904_223
                    return Float(Int32(bitPattern: state) >> 8) / Float(1 << 26)
                })
            }
        } }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: large.appendingPathComponent("adapter_model.safetensors"))
        return large
    }
}
