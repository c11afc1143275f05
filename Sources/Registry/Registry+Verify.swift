import Foundation
import LoRA
import Merge
import ObjectStore
import Postgres
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
}

extension Registry {
    /// Reads back every blob on the version's lineage (verifying digests) and re-runs every recorded merge from its
    /// stored inputs, comparing the canonical digest with the recorded one.
    public func verify(_ version: AdapterVersion) throws -> VerifyReport {
        let graph = try lineage(of: version)
        let versions = try pool.withConnection { try Self.versions($0, ids: graph.nodes.map(\.versionID)) }
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
            } catch let error as ObjectStoreError {
                checks.append(.init(kind: "blobs", subject: node.label, passed: false, detail: error.reason))
            }
        }
        for node in versions where node.kind == "merged" {
            checks.append(try rerunMerge(of: node))
        }
        return VerifyReport(subject: version.label, checks: checks)
    }

    /// Re-runs the first merge recorded for `output` and compares.
    func rerunMerge(of output: AdapterVersion) throws -> VerifyReport.Check {
        let recorded = try pool.withConnection { connection -> (Int64, MergeRequest, [AdapterVersion])? in
            guard let row = try connection.query(
                "SELECT id, params::text FROM merges WHERE output_version_id = \(output.id) ORDER BY id LIMIT 1").first
            else { return nil }
            let id = try row.decode(Int64.self, at: 0)
            let request = try JSONDecoder().decode(MergeRequest.self, from: Data(try row.decode(String.self, at: 1).utf8))
            let inputIDs = try connection.query("SELECT input_version_id FROM merge_inputs WHERE merge_id = \(id) ORDER BY position")
                .map { try $0.decode(Int64.self, at: 0) }
            return (id, request, try Self.versions(connection, ids: inputIDs))
        }
        guard let (mergeID, request, inputs) = recorded else {
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
