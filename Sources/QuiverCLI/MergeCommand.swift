import ArgumentParser
import Foundation
import Registry

/// `quiver merge --method M --into NAME REF...`: a registry merge with enforced compatibility and lineage.
public struct MergeCommand: ParsableCommand {
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

    public func run() throws {
        try reportingErrors {
            let registry = try options.open()
            let request = try engine.request()
            if queue {
                let job = try registry.enqueueMerge(MergeJobRequest(inputs: inputs, into: into, request: request))
                if json { return try printJSON(job) }
                return print("queued merge job \(job.id); run 'quiver worker' and 'quiver job show \(job.id)'")
            }
            let outcome = try registry.merge(inputs: try inputs.map(AdapterRef.parse), into: into, request: request)
            if json { return try printJSON(outcome) }
            print(outcome.existed
                ? "this merge was done before (merge #\(outcome.mergeID)): \(outcome.version.summaryLine)"
                : "merged into \(outcome.version.summaryLine) (merge #\(outcome.mergeID))")
        }
    }
}

/// `quiver worker`: claims queued merge jobs and runs them.
public struct WorkerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run queued merge jobs (claims with leases; a dead worker's job is taken over).")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Run at most one job, then exit.") var once = false
    @Option(help: "Lease per claim (e.g. 60s, 10m).") var lease = "60s"
    @Option(help: "Idle wait between polls (e.g. 2s).") var poll = "2s"
    @Option(name: .customLong("worker-id"), help: "This worker's name (default: host:pid).") var workerID: String?

    public init() {}

    public func run() throws {
        try reportingErrors {
            let registry = try options.open()
            let leaseSeconds = Int(try GraceDuration.seconds(lease))
            let pollSeconds = try GraceDuration.seconds(poll)
            let me = workerID ?? "\(ProcessInfo.processInfo.hostName):\(getpid())"
            repeat {
                if let job = try registry.runOneJob(worker: me, leaseSeconds: max(1, leaseSeconds)) {
                    print("job \(job.id): \(job.status) (attempt \(job.attempts)/\(job.maxAttempts))\(job.lastError.map { ": \($0)" } ?? "")")
                } else if once {
                    print("no job to run")
                } else {
                    sleep(UInt32(max(1, pollSeconds)))
                }
            } while !once
        }
    }
}

/// `quiver job show ID`.
public struct JobCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "job", abstract: "Inspect merge jobs.", subcommands: [Show.self])
    public init() {}

    public struct Show: ParsableCommand {
        public static let configuration = CommandConfiguration(abstract: "Show a merge job's status.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The job id.") var id: Int64
        public init() {}

        public func run() throws {
            try reportingErrors { try printJSON(try options.open().job(id: id)) }
        }
    }
}
