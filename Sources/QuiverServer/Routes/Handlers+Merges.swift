import Foundation
import Hummingbird
import Merge
import Registry

extension Handlers {
    /// `POST /v1/merges`: the merge parameters with MergeRequest's own keys, plus the inputs, the output name and
    /// `async`.
    struct MergeBody: RequestBody {
        static let keys: Set<String> = [
            "inputs", "into", "method", "weights", "density", "majority_sign", "svd_rank", "t", "seed", "allow_scaling_mismatch", "async",
        ]
        let inputs: [String]
        let into: String
        let method: MergeMethod
        let weights: [Double]?
        let density: Double?
        let majoritySign: MajoritySignMethod?
        let svdRank: Int?
        let t: Double?
        let seed: UInt64?
        let allowScalingMismatch: Bool?
        let async: Bool?

        enum CodingKeys: String, CodingKey {
            case inputs, into, method, weights, density, t, seed
            case majoritySign = "majority_sign"
            case svdRank = "svd_rank"
            case allowScalingMismatch = "allow_scaling_mismatch"
            case async = "async"
        }

        var request: MergeRequest {
            MergeRequest(
                method: method, weights: weights, density: density, majoritySign: majoritySign ?? .total, svdRank: svdRank, t: t,
                seed: seed ?? 0, allowScalingMismatch: allowScalingMismatch ?? false)
        }
    }

    static func merge(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let body = try await call.json(MergeBody.self)
        guard (1...64).contains(body.inputs.count) else { throw ServerError.invalid("a merge takes 1 to 64 inputs, got \(body.inputs.count)") }
        try AdapterRef.validateName(body.into)
        let refs = try body.inputs.map { text -> AdapterRef in
            guard text.count <= 256 else { throw ServerError.invalid("an input reference has more than 256 characters") }
            return try AdapterRef.parse(text)
        }
        let request = body.request
        try MergeCompatibility.checkParameters(request, inputCount: refs.count)
        try await call.authorize(.write(name: body.into))
        let inputs = try await call.registry { registry in try refs.map { try registry.resolve($0) } }
        for input in Set(inputs.map(\.name)) { try await call.authorize(.read(name: input)) }
        let total = inputs.reduce(Int64(0)) { $0 + $1.weightsSize }
        if body.async == true || total >= call.server.settings.syncMergeLimit {
            // Decided before queueing, as a merge run now decides it first: the same request answers with its
            // recorded result, a refusal is answered (and recorded) now, not found later by a worker.
            if let recorded = try await call.registry({ try $0.precheckMerge(inputs: refs, into: body.into, request: request) }) {
                return try call.json(recorded, status: .ok, headers: [.location: location(recorded.version)])
            }
            let job = try await call.registry { try $0.enqueueMerge(MergeJobRequest(inputs: body.inputs, into: body.into, request: request)) }
            call.logger.info("merge queued", metadata: ["job": "\(job.id)", "into": "\(body.into)", "input_bytes": "\(total)"])
            return try call.json(job, status: .accepted, headers: [.location: "/v1/jobs/\(job.id)"])
        }
        let started = ContinuousClock.now
        let outcome = try await call.registryMovingBlobs { try $0.merge(inputs: refs, into: body.into, request: request) }
        call.server.metrics.merge(mode: "sync", duration: ContinuousClock.now - started)
        call.logger.info("merged", metadata: ["version": "\(outcome.version.label)", "existed": "\(outcome.existed)"])
        return try call.json(outcome, status: outcome.existed ? .ok : .created, headers: [.location: location(outcome.version)])
    }

    static func showJob(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let text = try call.path("id", maxLength: 19)
        guard let id = Int64(text), id >= 1 else { throw ServerError.invalid("job id '\(text)' is not a positive integer") }
        let job = try await call.registry { try $0.job(id: id) }
        try await call.authorize(.read(name: job.request.into))
        return try call.json(job)
    }
}
