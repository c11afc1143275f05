import Foundation
import Merge
import Registry

extension QuiverClient {
    /// `POST /v1/merges`: merged within the request (200 done before, 201 new), or queued (202) when asked to or
    /// when the inputs are larger than the server's synchronous limit.
    public func merge(_ request: MergeJobRequest, queue: Bool) throws -> MergeSubmission {
        // The same request merges to the same recorded result (merge identity), so a repeat does no harm.
        let call = APIConnection.Call("POST", ["v1", "merges"], body: try APIConnection.body(MergeBody(job: request, async: queue)),
                                      contentType: "application/json", repetition: .safe, stall: settings.computeTimeout)
        let response = try connection.perform(call)
        try connection.check(response, call, expected: [200, 201, 202])
        if response.status == 202 { return .queued(try connection.decode(MergeJob.self, from: response, call)) }
        return .merged(try connection.decode(MergeOutcome.self, from: response, call))
    }

    public func job(id: Int64) throws -> MergeJob {
        try connection.json(MergeJob.self, read(["v1", "jobs", String(id)]))
    }

    /// The result of a succeeded job: its version, found among the versions of the job's `into`, and its merge.
    public func outcome(of job: MergeJob) throws -> MergeOutcome {
        guard job.status == .succeeded, let versionID = job.resultVersionID, let mergeID = job.mergeID else {
            throw RemoteError(kind: .notFound, code: "registry.job_not_succeeded", reason: "merge job \(job.id) has no result (\(job.status))",
                              hint: "'quiver job show \(job.id)' shows the job", status: 0)
        }
        let versions = try list(VersionFilter(name: job.request.into), limit: 10_000)
        guard let version = versions.first(where: { $0.id == versionID }) else {
            throw RemoteError(kind: .notFound, code: "registry.not_found",
                              reason: "the result of merge job \(job.id) (version id \(versionID)) is not among the versions of \(job.request.into)",
                              hint: "'quiver job show \(job.id)' shows the job", status: 0)
        }
        return MergeOutcome(version: version, mergeID: mergeID, existed: false)
    }
}

/// `POST /v1/merges`: the merge parameters with MergeRequest's own keys, plus the inputs, the output name and
/// `async`.
struct MergeBody: Encodable {
    let job: MergeJobRequest
    let async: Bool

    enum CodingKeys: String, CodingKey { case inputs, into, async }

    func encode(to encoder: any Encoder) throws {
        try job.request.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(job.inputs, forKey: .inputs)
        try container.encode(job.into, forKey: .into)
        try container.encode(async, forKey: .async)
    }
}
