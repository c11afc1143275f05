import ArgumentParser
import Foundation
import QuiverCore
import Registry

/// `quiver worker`: claims queued merge jobs and runs them.
public struct WorkerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run queued merge jobs (claims with leases; a dead worker's job is taken over).")

    @OptionGroup var options: LocalRegistryOptions
    @Flag(help: "Run at most one job, then exit.") var once = false
    @Option(help: "Lease per claim (e.g. 60s, 10m).") var lease = "60s"
    @Option(help: "Idle wait between polls (e.g. 2s).") var poll = "2s"
    @Option(name: .customLong("worker-id"), help: "This worker's name (default: host:pid).") var workerID: String?

    public init() {}

    public func validate() throws {
        let leaseSeconds = try OptionParsing.seconds(lease)
        guard (1...Int64(Int32.max)).contains(leaseSeconds) else {
            throw OptionError("invalid_option", "--lease must be between 1s and 68 years, got \(lease)", hint: "use e.g. --lease 60s")
        }
        guard try OptionParsing.seconds(poll) <= Int64(UInt32.max) else {
            throw OptionError("invalid_option", "--poll \(poll) is too long", hint: "use e.g. --poll 2s")
        }
        if let workerID, workerID.isEmpty {
            throw OptionError("invalid_option", "--worker-id is empty", hint: "omit it to use host:pid")
        }
    }

    public func run() throws {
        let leaseSeconds = Int(try OptionParsing.seconds(lease))
        let pollSeconds = try OptionParsing.seconds(poll)
        let me = workerID ?? "\(ProcessInfo.processInfo.hostName):\(getpid())"
        let registry = try options.open()
        var outage = 0
        repeat {
            do {
                if let job = try registry.runOneJob(worker: me, leaseSeconds: leaseSeconds) {
                    print("job \(job.id): \(job.status) (attempt \(job.attempts)/\(job.maxAttempts))\(job.lastError.map { ": \($0)" } ?? "")")
                } else if once {
                    print("no job to run")
                } else {
                    sleep(UInt32(max(1, pollSeconds)))
                }
                outage = 0
            } catch let error as any NamedError where error.errorKind == .unavailable && !once {
                // The database or the store is away (a restart): a long-running worker waits for it instead of
                // exiting; a job it held keeps its lease until that lapses and is then taken over.
                outage += 1
                let pause = min(30, 1 << min(outage, 5))
                FileHandle.standardError.write(Data("worker: \(error.code) (\(error.reason)); retrying in \(pause) s\n".utf8))
                sleep(UInt32(pause))
            }
        } while !once
    }
}
