import Foundation
import LoRA
import ObjectStore
import QuiverCore

/// What `fsck` found and what it mended.
public struct FsckReport: Sendable, Codable {
    /// One broken invariant, with everything it affects.
    public struct Violation: Sendable, Codable, Equatable {
        public let check: String
        public let subject: String
        public let detail: String
        /// The versions it breaks and every version merged from them, as `name@version`.
        public let affects: [String]
        /// Aliases pointing at an affected version (what a serving engine may be using).
        public let aliases: [String]
        /// The weights sha256 of the affected versions: what a deployment that pulled them holds.
        public let deployedDigests: [String]
    }

    public let versions: Int
    public let blobs: Int
    public let deep: Bool
    public let violations: [Violation]
    /// What `--repair` did, one line each.
    public let repaired: [String]
    public var passed: Bool { violations.isEmpty }
}

extension Registry {
    /// Checks every invariant between the catalog and the blob store: each referenced blob exists with its recorded
    /// size (`deep`: and hashes to its digest); each version has its two files; each merge's edges match its inputs;
    /// lineage is acyclic; jobs are in a legal state and hold no dead lease; alias histories are unbroken.
    ///
    /// `repair` does only what is safe and never deletes: a merged version whose files the store lost is re-run
    /// from its recorded inputs and its files restored when the result matches the recorded digest exactly. A lost
    /// trained file can only come back from its original directory (`quiver register` of it heals the store).
    /// With `deep`, a blob recorded without its SHA-256 chaining states (before migration 0010) gains them, taken
    /// from the very bytes the read verified, so that pulls then verify its ranges as they arrive.
    public func fsck(deep: Bool = false, repair: Bool = false) throws -> FsckReport {
        let (referenced, catalogFindings, versionCount) = try catalog.read { session in
            (try session.integrity.referencedBlobs(), try session.integrity.findings(now: clock.now()),
             try session.versions.list(VersionFilter(), limit: Int.max).count)
        }
        var findings = catalogFindings
        var repaired: [String] = []
        let unchained = deep && repair && SHA256Chain.available
            ? try catalog.read { try $0.blobs.digestsWithoutChain(largerThan: SHA256Chain.defaultStride) } : []
        let stored = Dictionary(try blobs.list().map { ($0.digest.hex, $0.size) }, uniquingKeysWith: { a, _ in a })
        var lostVersionIDs: Set<Int64> = []
        for blob in referenced {
            let who = blob.referencedBy.joined(separator: ", ")
            guard let size = stored[blob.hexDigest] else {
                findings.append(CatalogFinding(check: "blob_missing", subject: "sha256:\(blob.hexDigest)",
                                               detail: "the store has no blob referenced by \(who)", versionIDs: blob.versionIDs))
                lostVersionIDs.formUnion(blob.versionIDs)
                continue
            }
            if size != blob.size {
                findings.append(CatalogFinding(check: "blob_size", subject: "sha256:\(blob.hexDigest)",
                                               detail: "the store holds \(size) bytes, the catalog recorded \(blob.size) (\(who))",
                                               versionIDs: blob.versionIDs))
                lostVersionIDs.formUnion(blob.versionIDs)
                continue
            }
            if deep, let digest = SHA256Digest(hex: blob.hexDigest) {
                do {
                    // Streamed and hashed, nothing written: a whole-blob read verifies the digest at its end.
                    guard unchained.contains(blob.hexDigest) else {
                        _ = try blobs.get(digest: digest, range: nil) { _ in }
                        continue
                    }
                    // The digest and the chaining states in one pass over the bytes as they stream in (a ranged
                    // read, which the store does not hash itself); the states are kept only once the bytes are
                    // seen to hash to the digest.
                    var failure: (any Error)?
                    let (actual, chain) = SHA256Chain.digest(size: blob.size) { feed in
                        do { _ = try blobs.get(digest: digest, range: 0..<blob.size) { feed($0) } } catch { failure = error }
                    }
                    if let failure { throw failure }
                    guard actual == digest else { throw ObjectStoreError.corrupt(digest, actual: actual, at: blobs.location) }
                    if let chain {
                        try catalog.transaction { try $0.blobs.record(digest, size: blob.size, chain: chain) }
                        repaired.append("sha256:\(blob.hexDigest) (\(who)): recorded its chaining states; pulls verify its ranges as they arrive")
                    }
                } catch let error as ObjectStoreError where error.errorKind == .integrity {
                    findings.append(CatalogFinding(check: "blob_corrupt", subject: "sha256:\(blob.hexDigest)",
                                                   detail: "\(error.reason) (\(who))", versionIDs: blob.versionIDs))
                    lostVersionIDs.formUnion(blob.versionIDs)
                }
            }
        }
        if repair {
            let mended = try repairLostMergeOutputs(Array(lostVersionIDs).sorted())
            repaired += mended.lines
            findings.removeAll { finding in
                ["blob_missing", "blob_size", "blob_corrupt"].contains(finding.check)
                    && !finding.versionIDs.isEmpty && finding.versionIDs.allSatisfy(mended.versionIDs.contains)
            }
        }
        let violations = try catalog.read { session in
            try findings.map { finding in
                let affected = finding.versionIDs + (try session.integrity.descendants(of: finding.versionIDs))
                let versions = try session.versions.versions(ids: affected)
                return FsckReport.Violation(
                    check: finding.check, subject: finding.subject, detail: finding.detail, affects: versions.map(\.label),
                    aliases: try session.integrity.aliases(pointingAt: affected), deployedDigests: versions.map(\.weightsDigest.hex))
            }
        }
        return FsckReport(versions: versionCount, blobs: referenced.count, deep: deep, violations: violations, repaired: repaired)
    }

    /// Re-runs the recorded merge of every merged version among `versionIDs` and restores its files when the
    /// result is byte-identical to what was recorded; returns what it mended.
    func repairLostMergeOutputs(_ versionIDs: [Int64]) throws -> (lines: [String], versionIDs: Set<Int64>) {
        var lines: [String] = []
        var mended: Set<Int64> = []
        let versions = try catalog.read { try $0.versions.versions(ids: versionIDs) }
        for version in versions where version.kind == .merged {
            guard let (mergeID, request, inputs) = try recordedRecipe(of: version) else { continue }
            do {
                let (adapter, scratch) = try runMerge(inputs: inputs, request: request)
                defer { try? FileManager.default.removeItem(at: scratch) }
                guard adapter.canonicalDigest == version.canonicalDigest, adapter.weightsDigest == version.weightsDigest,
                      adapter.configDigest == version.configDigest else {
                    lines.append("\(version.label): re-running merge #\(mergeID) gives other bytes; not restored")
                    continue
                }
                for (digest, url) in [(version.configDigest, adapter.directory.appendingPathComponent(LoRAAdapter.configFileName)),
                                      (version.weightsDigest, adapter.directory.appendingPathComponent(LoRAAdapter.weightsFileName))] {
                    _ = try blobs.replace(fileAt: url, digest: digest)
                }
                try catalog.transaction { tx in
                    try audit(tx, action: "fsck.repair", subject: version.label, details: [
                        "merge_id": String(mergeID), "restored": "config,weights", "store": blobs.location,
                    ])
                }
                lines.append("\(version.label): re-ran merge #\(mergeID) and restored its files (identical bytes)")
                mended.insert(version.id)
            } catch let error as any NamedError {
                lines.append("\(version.label): re-running merge #\(mergeID) failed: \(error.code): \(error.reason)")
            }
        }
        return (lines, mended)
    }
}
