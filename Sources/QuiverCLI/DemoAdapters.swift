import Foundation
import LoRA
import SafeTensors

/// The demo's bundled "skill" adapters, generated in the binary from fixed seeds so every run writes the same bytes.
enum DemoAdapters {
    static let baseModel = "quiver-demo/tiny-base"
    static let hidden = 64
    static let layers = 2
    static let modules = ["q_proj", "v_proj"]

    /// A skill: its name, rank, seed, and (for conflict) the skill whose update it mostly opposes.
    struct Spec {
        let name: String
        let rank: Int
        let seed: UInt64
        var opposes: String?
        var baseModel = DemoAdapters.baseModel
    }

    static let specs: [Spec] = [
        Spec(name: "tone", rank: 8, seed: 11),
        Spec(name: "json", rank: 8, seed: 23, opposes: "tone"),
        Spec(name: "domain", rank: 8, seed: 37),
        Spec(name: "legacy", rank: 4, seed: 41),
    ]

    /// Writes every demo adapter under `root` (`root/<name>`), returning their directories by name.
    static func write(to root: URL) throws -> [String: URL] {
        var out: [String: URL] = [:]
        var factors: [String: [String: (a: [Float], b: [Float])]] = [:]
        for spec in specs {
            var rng = SplitMix(seed: spec.seed)
            var tensors: [TensorToWrite] = []
            var mine: [String: (a: [Float], b: [Float])] = [:]
            for layer in 0..<layers {
                for module in modules {
                    let path = "model.layers.\(layer).self_attn.\(module)"
                    var a = (0..<(spec.rank * hidden)).map { _ in rng.gaussian() * 0.1 }
                    var b = (0..<(hidden * spec.rank)).map { _ in rng.gaussian() * 0.05 }
                    if let other = spec.opposes, let theirs = factors[other]?[path] {
                        // Same A, B mostly negated: the two updates disagree in sign almost everywhere.
                        a = theirs.a
                        b = zip(theirs.b, b).map { -$0 + 0.3 * $1 }
                    }
                    mine[path] = (a, b)
                    let keys = loraTensorKeys(modulePath: path)
                    tensors.append(TensorToWrite(name: keys.a, shape: [spec.rank, hidden], values: a))
                    tensors.append(TensorToWrite(name: keys.b, shape: [hidden, spec.rank], values: b))
                }
            }
            factors[spec.name] = mine
            let config = AdapterConfig(
                baseModelNameOrPath: spec.baseModel, r: spec.rank, loraAlpha: Double(2 * spec.rank), targetModules: .list(modules))
            let directory = root.appendingPathComponent(spec.name, isDirectory: true)
            try LoRAWriter.write(config: config, tensors: tensors, metadata: ["quiver.demo": spec.name], to: directory)
            out[spec.name] = directory
        }
        return out
    }
}

/// SplitMix64 with Box–Muller normals: tiny, seeded, identical on every machine.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    mutating func gaussian() -> Float {
        Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
    }
}
