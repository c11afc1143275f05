import ArgumentParser
import Foundation
import LoRA
import QuiverCore

/// `quiver inspect DIR`: validates a PEFT adapter directory and reports what it holds.
public struct InspectCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Validate a PEFT LoRA adapter directory and show its config, modules, sizes and digests."
    )

    @Argument(help: "The adapter directory (adapter_config.json + adapter_model.safetensors).")
    var directory: String

    @Flag(name: .long, help: "Print a JSON report instead of text.")
    var json = false

    @Flag(name: .long, help: "Read only the header: skip the sha256 digests and the NaN/Inf scan of the weights (both read the whole file).")
    var noDigest = false

    public init() {}

    public func run() throws {
        let adapter = try LoRAAdapter.load(directory: URL(fileURLWithPath: directory, isDirectory: true))
        if !noDigest { try adapter.requireFiniteWeights() }
        let report = InspectReport(adapter, digests: !noDigest)
        print(json ? try JSONOutput.string(report) : report.text)
    }
}
