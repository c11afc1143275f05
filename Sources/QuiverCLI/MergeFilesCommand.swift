import ArgumentParser
import Foundation
import LoRA
import Merge
import QuiverCore
import SafeTensors

/// `quiver merge-files`: merges PEFT adapter directories into a new one, without the registry.
public struct MergeFilesCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "merge-files",
        abstract: "Merge PEFT adapter directories into a new adapter directory (no registry needed).",
        discussion: """
            Methods: \(MergeMethod.allCases.map { $0.rawValue }.joined(separator: ", ")).
            Compatibility is checked before any arithmetic; a refusal exits 2 and writes nothing.
            """)

    @OptionGroup var engine: MergeRequestOptions

    @Option(help: "Modules merged at once (default: all cores). Does not change the output.")
    var threads: Int?

    @Option(help: "Output directory (must not exist yet).")
    var output: String

    @Flag(help: "Flush the output to the disk (fsync of both files and the directories) before exiting. Without it the files are left to the page cache, as cp and PEFT's save_pretrained leave theirs; the directory appears complete or not at all either way.")
    var fsync = false

    @Argument(help: "Input adapter directories (adapter_config.json + adapter_model.safetensors).")
    var inputs: [String]

    public init() {}

    public func validate() throws {
        _ = try engine.request(inputCount: inputs.count)
        try OptionParsing.positive(threads, "threads")
    }

    public func run() throws {
        print(try merge())
    }

    /// Merges into a temporary sibling of the output directory, then renames it into place.
    func merge() throws -> String {
        let request = try engine.request(inputCount: inputs.count)
        let destination = URL(fileURLWithPath: output)
        try AtomicDirectory.requireAbsent(destination)
        let adapters = try inputs.map { try LoRAAdapter.load(directory: URL(fileURLWithPath: $0)) }
        // The merge streams its modules into the temporary directory's weights file as it goes.
        let result = try AtomicDirectory.write(to: destination) { directory in
            try MergeEngine.merge(inputs: adapters, request: request, threads: threads, into: directory, synchronize: fsync)
        }
        if fsync { try AtomicFile.synchronize(destination.deletingLastPathComponent()) }
        var summary = "merged \(adapters.count) adapters with \(request.method.rawValue) into \(destination.path): "
            + "\(result.report.modules.count) modules, r = \(result.config.r)"
        if let worst = result.report.maxRelativeTruncationError {
            summary += ", max relative truncation error \(NumberFormat.significant(worst, 4))"
        }
        return summary
    }
}
