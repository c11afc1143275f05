import ArgumentParser
import Foundation
import LoRA
import Merge
import QuiverCore

extension MergeMethod: ExpressibleByArgument {}
extension MajoritySignMethod: ExpressibleByArgument {}

/// `quiver merge-files`: merges PEFT adapter directories into a new one, without the registry.
public struct MergeFilesCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "merge-files",
        abstract: "Merge PEFT adapter directories into a new adapter directory (no registry needed).",
        discussion: """
            Methods: \(MergeMethod.allCases.map { $0.rawValue }.joined(separator: ", ")).
            Compatibility is checked before any arithmetic; a refusal exits non-zero and writes nothing.
            """)

    @Option(help: "Merge method.")
    var method: MergeMethod

    @Option(help: "Comma-separated weights, one per input (negative subtracts). Default: 1/n each.")
    var weights: String?

    @Option(help: "Fraction of entries kept by ties, dare_* and magnitude_prune (and *_svd), in [0, 1].")
    var density: Double?

    @Option(name: .customLong("majority-sign"), help: "Sign election for ties/dare_ties: total or frequency.")
    var majoritySign: MajoritySignMethod = .total

    @Option(name: .customLong("svd-rank"), help: "Rank of the result for svd and *_svd (default: largest input rank); a cap for cat.")
    var svdRank: Int?

    @Option(help: "Interpolation parameter of slerp, in [0, 1].")
    var t: Double?

    @Option(help: "Seed of the DARE masks (the output is the same for the same seed on any machine).")
    var seed: UInt64 = 0

    @Flag(name: .customLong("allow-scaling-mismatch"), help: "Fold different LoRA scalings into the weights in factor-space methods (as PEFT does).")
    var allowScalingMismatch = false

    @Option(help: "Modules merged at once (default: all cores). Does not change the output.")
    var threads: Int?

    @Option(help: "Output directory (must not exist yet).")
    var output: String

    @Argument(help: "Input adapter directories (adapter_config.json + adapter_model.safetensors).")
    var inputs: [String]

    public init() {}

    public func run() throws {
        do {
            let report = try merge()
            print(report)
        } catch let error as any NamedError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    func request() throws -> MergeRequest {
        var parsed: [Double]?
        if let weights {
            parsed = try weights.split(separator: ",").map { item in
                guard let value = Double(item.trimmingCharacters(in: .whitespaces)) else {
                    throw MergeError(.badParameter, "weight '\(item)' is not a number", hint: "use e.g. --weights 0.7,0.3")
                }
                return value
            }
        }
        return MergeRequest(
            method: method, weights: parsed, density: density, majoritySign: majoritySign, svdRank: svdRank, t: t,
            seed: seed, allowScalingMismatch: allowScalingMismatch)
    }

    /// Merges into a temporary sibling of the output directory, then renames it into place.
    func merge() throws -> String {
        let destination = URL(fileURLWithPath: output)
        if FileManager.default.fileExists(atPath: destination.path) {
            throw MergeError(.input, "the output \(destination.path) already exists", hint: "choose a new --output directory")
        }
        let adapters = try inputs.map { try LoRAAdapter.load(directory: URL(fileURLWithPath: $0)) }
        let result = try MergeEngine.merge(inputs: adapters, request: try request(), threads: threads)
        let parent = destination.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let temporary = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try LoRAWriter.write(config: result.config, tensors: result.tensors, metadata: result.metadata, to: temporary)
            try FileManager.default.moveItem(at: temporary, to: destination)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        var summary = "merged \(adapters.count) adapters with \(method.rawValue) into \(destination.path): "
            + "\(result.report.modules.count) modules, r = \(result.config.r)"
        if let worst = result.report.maxRelativeTruncationError {
            summary += String(format: ", max relative truncation error %.4g", worst)
        }
        return summary
    }
}
