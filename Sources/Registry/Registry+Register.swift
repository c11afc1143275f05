import Foundation
import LoRA
import Postgres
import QuiverCore

extension Registry {
    /// Registers the PEFT directory as a new version of `name` (kind `trained`). Weights holding NaN or Inf are
    /// refused (`lora.non_finite_weight`) before anything is uploaded.
    ///
    /// The files are uploaded as content-addressed blobs first, then the version, its modules, blob rows and an
    /// audit event are recorded in one transaction. Identical content (same canonical digest) returns the existing
    /// version; concurrent registrations of the same content create exactly one. A crash before the commit leaves
    /// only unreferenced blobs, which `gc` removes after the grace period.
    public func register(directory: URL, name: String, tags: [String: String] = [:], baseRevision: String? = nil) throws -> RegisterOutcome {
        try AdapterRef.validateName(name)
        let adapter = try LoRAAdapter.load(directory: directory)
        try adapter.requireFiniteWeights()
        return try store(adapter: adapter, name: name, kind: "trained", tags: tags, baseRevision: baseRevision) { _, _ in }
    }

    /// Uploads `adapter`'s files and records it as a version of `name`; `inTransaction` runs inside the recording
    /// transaction (a merge records its lineage there) and only when a new version is created.
    func store(
        adapter: LoRAAdapter, name: String, kind: String, tags: [String: String], baseRevision: String?,
        inTransaction: (PostgresConnection, AdapterVersion) throws -> Void
    ) throws -> RegisterOutcome {
        let canonical = adapter.canonicalDigest
        if let existing = try version(canonicalDigest: canonical) {
            try restoreMissingBlobs(of: existing, from: adapter)
            return RegisterOutcome(version: existing, existed: true)
        }
        return try withBlobFence { connection in
            let config = try blobs.put(data: adapter.configBytes)
            let weightsURL = adapter.directory.appendingPathComponent(LoRAAdapter.weightsFileName)
            let weights = try blobs.put(fileAt: weightsURL, digest: adapter.weightsDigest)
            return try retryingTransaction(on: connection) { tx in
                try tx.query("SELECT pg_advisory_xact_lock(hashtext(\("quiver.content:" + canonical.hex)))")
                if let existing = try Self.version(tx, canonicalDigest: canonical) {
                    return RegisterOutcome(version: existing, existed: true)
                }
                try tx.query("SELECT pg_advisory_xact_lock(hashtext(\("quiver.adapter:" + name)))")
                for blob in [config, weights] {
                    try tx.query("INSERT INTO blobs (sha256, size) VALUES (\(blob.digest.hex), \(blob.size)) ON CONFLICT (sha256) DO NOTHING")
                }
                let baseName = adapter.config.baseModelNameOrPath ?? ""
                let revision = baseRevision ?? adapter.config.revision ?? ""
                try tx.query("INSERT INTO base_models (name, revision) VALUES (\(baseName), \(revision)) ON CONFLICT (name, revision) DO NOTHING")
                let baseID = try tx.query("SELECT id FROM base_models WHERE name = \(baseName) AND revision = \(revision)")
                    .single().decode(Int64.self, at: 0)
                try tx.query("INSERT INTO adapters (name, created_by) VALUES (\(name), \(actor)) ON CONFLICT (name) DO NOTHING")
                let adapterID = try tx.query("SELECT id FROM adapters WHERE name = \(name)").single().decode(Int64.self, at: 0)
                let number = try tx.query("SELECT coalesce(max(version), 0) + 1 FROM adapter_versions WHERE adapter_id = \(adapterID)")
                    .single().decode(Int.self, at: 0)
                let targets = Array(Set(adapter.modules.map { $0.path.split(separator: ".").last.map(String.init) ?? $0.path })).sorted()
                let configJSON = PostgresJSON(text: String(decoding: adapter.configBytes, as: UTF8.self))
                let tagsJSON = try PostgresJSON(encoding: tags)
                let id = try tx.query("""
                    INSERT INTO adapter_versions (adapter_id, version, kind, peft_type, base_model_id, r, lora_alpha, use_rslora,
                        use_dora, target_modules, config, canonical_digest, config_digest, config_size, weights_digest,
                        weights_size, tags, created_by)
                    VALUES (\(adapterID), \(number), \(kind), \(adapter.config.peftType), \(baseID), \(adapter.config.r),
                        \(adapter.config.loraAlpha), \(adapter.config.useRslora), \(adapter.config.useDora), \(targets),
                        \(configJSON), \(canonical.hex), \(config.digest.hex), \(config.size), \(weights.digest.hex),
                        \(weights.size), \(tagsJSON), \(actor))
                    RETURNING id
                    """).single().decode(Int64.self, at: 0)
                for module in adapter.modules {
                    try tx.query("""
                        INSERT INTO version_modules (version_id, path, rank, alpha, scaling, in_features, out_features, dtype)
                        VALUES (\(id), \(module.path), \(module.rank), \(module.alpha), \(module.scaling), \(module.inFeatures),
                            \(module.outFeatures), \(module.dtype.rawValue))
                        """)
                }
                try tx.query("""
                    INSERT INTO version_blobs (version_id, role, blob_sha256)
                    VALUES (\(id), 'config', \(config.digest.hex)), (\(id), 'weights', \(weights.digest.hex))
                    """)
                guard let created = try Self.version(tx, id: id) else {
                    throw RegistryError(.internal, code: "registry.internal", reason: "version \(id) vanished inside its own transaction")
                }
                try audit(tx, action: "version.register", subject: created.label, details: [
                    "kind": kind, "canonical_digest": canonical.hex, "weights_digest": weights.digest.hex,
                    "config_digest": config.digest.hex, "base_model": baseName,
                ])
                try inTransaction(tx, created)
                return RegisterOutcome(version: created, existed: false)
            }
        }
    }

    /// Re-uploads an existing version's files from a byte-identical directory when the store no longer has them (a
    /// store that was moved, lost or restored from an old backup), so registering the same content again also heals
    /// the store. Files that differ in bytes (same canonical content, other layout) cannot stand in and are skipped:
    /// `verify` reports such a loss.
    func restoreMissingBlobs(of version: AdapterVersion, from adapter: LoRAAdapter) throws {
        let weightsURL = adapter.directory.appendingPathComponent(LoRAAdapter.weightsFileName)
        var missing: [(role: String, digest: SHA256Digest, upload: () throws -> Void)] = []
        if adapter.configDigest == version.configDigest, try !blobs.exists(digest: version.configDigest) {
            missing.append(("config", version.configDigest, { _ = try self.blobs.put(data: adapter.configBytes) }))
        }
        if adapter.weightsDigest == version.weightsDigest, try !blobs.exists(digest: version.weightsDigest) {
            missing.append(("weights", version.weightsDigest, { _ = try self.blobs.put(fileAt: weightsURL, digest: version.weightsDigest) }))
        }
        guard !missing.isEmpty else { return }
        try withBlobFence { connection in
            for file in missing { try file.upload() }
            try audit(connection, action: "blob.restore", subject: version.label, details: [
                "restored": missing.map { "\($0.role):\($0.digest.hex)" }.joined(separator: ","), "store": blobs.location,
            ])
        }
    }
}
