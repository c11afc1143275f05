import Foundation
import LoRA
import Merge
import ObjectStore
import QuiverCore

/// The result of `verify`: one check per version on the path and per recorded merge.
public struct VerifyReport: Sendable, Codable {
    public struct Check: Sendable, Codable {
        /// `blobs` (both files read back and hashed) or `merge` (re-run and compared).
        public let kind: String
        public let subject: String
        public let passed: Bool
        public let detail: String
    }

    public let subject: String
    public let checks: [Check]
    public var passed: Bool { checks.allSatisfy(\.passed) }
    public var failures: [Check] { checks.filter { !$0.passed } }

    enum CodingKeys: String, CodingKey { case subject, checks, passed }

    public init(subject: String, checks: [Check]) {
        self.subject = subject
        self.checks = checks
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(subject: try container.decode(String.self, forKey: .subject), checks: try container.decode([Check].self, forKey: .checks))
    }

    /// `passed` is written too (derived from the checks), so a reader of `verify --json` or the API needs no logic.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(subject, forKey: .subject)
        try container.encode(checks, forKey: .checks)
        try container.encode(passed, forKey: .passed)
    }
}

extension Registry {
    /// Reads back every blob on the version's lineage (verifying digests) and re-runs every recorded merge from its
    /// stored inputs, comparing the canonical digest with the recorded one.
    public func verify(_ version: AdapterVersion) throws -> VerifyReport {
        let graph = try lineage(of: version)
        let versions = try catalog.read { try $0.versions.versions(ids: graph.nodes.map(\.versionID)) }
        var checks: [VerifyReport.Check] = []
        let scratch = try scratchDirectory("verify")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for node in versions {
            let directory = scratch.appendingPathComponent("v\(node.id)")
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try download(node, into: directory)
                checks.append(.init(kind: "blobs", subject: node.label, passed: true,
                                    detail: "config \(node.configDigest.hex.prefix(12)) and weights \(node.weightsDigest.hex.prefix(12)) read back intact"))
            } catch let error as ObjectStoreError where error.errorKind == .integrity || error.errorKind == .notFound {
                // A blob that is missing or does not match its digest is a finding; a store that cannot be reached
                // is not (it propagates: "unavailable", not "verification failed").
                checks.append(.init(kind: "blobs", subject: node.label, passed: false, detail: error.reason))
            }
        }
        for node in versions where node.kind == .merged {
            checks.append(try rerunMerge(of: node))
        }
        return VerifyReport(subject: version.label, checks: checks)
    }

    /// The first merge recorded for `output`: its id, the request as recorded, and its inputs in merge order (what
    /// `verify` and `fsck --repair` re-run).
    func recordedRecipe(of output: AdapterVersion) throws -> (mergeID: Int64, request: MergeRequest, inputs: [AdapterVersion])? {
        try catalog.read { session in
            guard let merge = try session.merges.first(producing: output.id) else { return nil }
            let request = try JSONDecoder().decode(MergeRequest.self, from: Data(merge.params.utf8))
            return (merge.id, request, try session.versions.versions(ids: merge.inputVersionIDs))
        }
    }

    /// Re-runs the first merge recorded for `output` and compares.
    func rerunMerge(of output: AdapterVersion) throws -> VerifyReport.Check {
        guard let (mergeID, request, inputs) = try recordedRecipe(of: output) else {
            return .init(kind: "merge", subject: output.label, passed: false, detail: "a merged version with no recorded merge")
        }
        do {
            let (adapter, scratch) = try runMerge(inputs: inputs, request: request)
            defer { try? FileManager.default.removeItem(at: scratch) }
            let canonical = adapter.canonicalDigest
            guard canonical == output.canonicalDigest else {
                return .init(kind: "merge", subject: output.label, passed: false,
                             detail: "re-running merge #\(mergeID) gives canonical digest \(canonical.hex), recorded \(output.canonicalDigest.hex)")
            }
            let weightsNote = adapter.weightsDigest == output.weightsDigest ? "weights file identical" : "tensors identical, file metadata differs"
            return .init(kind: "merge", subject: output.label, passed: true,
                         detail: "merge #\(mergeID) (\(request.method.rawValue) of \(inputs.map(\.label).joined(separator: ", "))) reproduced: \(weightsNote)")
        } catch let error as any NamedError {
            return .init(kind: "merge", subject: output.label, passed: false, detail: "re-running merge #\(mergeID) failed: \(error.reason)")
        }
    }
}
