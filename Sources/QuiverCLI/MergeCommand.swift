import ArgumentParser
import Foundation
import QuiverClient
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
    @Flag(name: .customLong("async"), help: "Queue the merge as a job (for 'quiver worker', or the server's workers) and print the job id.") var queue = false
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
        let service = try options.service()
        let submission = try service.merge(MergeJobRequest(inputs: inputs, into: into, request: request), queue: queue)
        if queue, case .queued(let job) = submission {
            if json { return try printJSON(job) }
            let follow = options.isRemote ? "the server's workers run it; 'quiver job show \(job.id)' follows it"
                : "run 'quiver worker' and 'quiver job show \(job.id)'"
            return print("queued merge job \(job.id); \(follow)")
        }
        let outcome = try MergeCompletion.outcome(of: submission, service: service, progress: .standardError())
        if json { return try printJSON(outcome) }
        print(Self.line(outcome))
    }

    /// The outcome line, the same in local and remote mode.
    static func line(_ outcome: MergeOutcome) -> String {
        outcome.existed
            ? "this merge was done before (merge #\(outcome.mergeID)): \(outcome.version.summaryLine)"
            : "merged into \(outcome.version.summaryLine) (merge #\(outcome.mergeID))"
    }
}
