import ArgumentParser
import Foundation
import Registry

/// `quiver merge --method M --into NAME REF...`: a registry merge with enforced compatibility and lineage.
public struct MergeCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge registered versions into a new version of NAME, recording the merge and its lineage.",
        discussion: "The registry policy (quiver policy show) and the engine's rules are checked first; a refusal is recorded and exits 2.")

    @OptionGroup var options: RegistryOptions
    @OptionGroup var engine: MergeRequestOptions
    @Option(help: "The adapter name the result becomes a version of.") var into: String
    @Flag(name: .customLong("async"), help: "Queue the merge as a job for 'quiver worker' and print the job id.") var queue = false
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "Input references (NAME, NAME@VERSION, NAME@ALIAS, sha256).") var inputs: [String]

    public init() {}

    public func validate() throws {
        try AdapterRef.validateName(into)
        _ = try OptionParsing.references(inputs)
        _ = try engine.request(inputCount: inputs.count)
    }

    public func run() throws {
        let request = try engine.request(inputCount: inputs.count)
        let references = try OptionParsing.references(inputs)
        let registry = try options.open()
        if queue {
            let job = try registry.enqueueMerge(MergeJobRequest(inputs: inputs, into: into, request: request))
            if json { return try printJSON(job) }
            return print("queued merge job \(job.id); run 'quiver worker' and 'quiver job show \(job.id)'")
        }
        let outcome = try registry.merge(inputs: references, into: into, request: request)
        if json { return try printJSON(outcome) }
        print(outcome.existed
            ? "this merge was done before (merge #\(outcome.mergeID)): \(outcome.version.summaryLine)"
            : "merged into \(outcome.version.summaryLine) (merge #\(outcome.mergeID))")
    }
}
