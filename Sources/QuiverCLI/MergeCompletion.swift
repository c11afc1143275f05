import Foundation
import QuiverClient
import Registry

/// A merge that was asked to run now but came back queued (a server queues merges of large inputs): wait for its
/// job, polling with a live status line on a terminal, and end with the same outcome (or error) as a merge run in
/// the request.
enum MergeCompletion {
    static func outcome(of submission: MergeSubmission, service: any RegistryService, progress: ProgressReporter,
                        poll: (first: Double, longest: Double) = (0.25, 2)) throws -> MergeOutcome {
        switch submission {
        case .merged(let outcome):
            return outcome
        case .queued(let queued):
            progress.note("merge queued as job \(queued.id) (large inputs run in the background); waiting for it ('quiver job show \(queued.id)')")
            let indicator = progress.waiting("merge job \(queued.id)")
            defer { indicator.finish() }
            var job = queued
            var interval = poll.first
            while !job.isFinished {
                indicator.update(job.status == .running ? "running (attempt \(job.attempts)/\(job.maxAttempts))" : "\(job.status)")
                Thread.sleep(forTimeInterval: interval)
                interval = min(poll.longest, interval * 1.5)
                job = try service.job(id: job.id)
            }
            indicator.finish()
            if let failure = job.failure { throw failure }
            return try service.outcome(of: job)
        }
    }
}
