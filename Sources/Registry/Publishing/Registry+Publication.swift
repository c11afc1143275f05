import Foundation
import LoRA
import Provenance
import QuiverCore

extension Registry {
    /// Prepares the version a reference names for publishing: checks what the engine refuses
    /// (``ServingEngineRules``), rewrites `base_model_name_or_path` when asked, records a `version.publish` audit
    /// event, and signs — the in-toto statement over the adapter files as published
    /// (``provenanceStatement(for:subjects:publication:)``, recording the rewrite), `quiver.json`, and `model.sig`
    /// (OpenSSF model signing) over every file of the directory. Writes no file; ``PublicationWriter`` does.
    public func publication(of ref: AdapterRef, request: PublishRequest) throws -> Publication {
        let version = try resolve(ref)
        if let base = request.baseModel { try Self.validateBaseModelName(base) }
        let registeredConfig = try blobs.getData(digest: version.configDigest)
        var config = try AdapterConfig.parse(registeredConfig, file: "\(version.label)/\(LoRAAdapter.configFileName)")
        let modules = try catalog.read { try $0.versions.modules(versionID: version.id) }
        try ServingEngineRules.check(config: config, modules: modules, label: version.label, requirements: request.requirements)
        let key = try signingKey.load()

        var publishedConfig = registeredConfig
        var rewrite: PublicationNote.BaseModelRewrite?
        if let base = request.baseModel, base != config.baseModelNameOrPath {
            rewrite = .init(from: config.baseModelNameOrPath, to: base, registeredConfigSHA256: version.configDigest.hex)
            config.baseModelNameOrPath = base
            publishedConfig = try config.jsonData()
        }
        let configDigest = SHA256Digest.of(publishedConfig)
        // Recorded before signing, so the statement's audit chain head already covers this publication.
        try catalog.transaction { tx in
            try audit(tx, action: "version.publish", subject: version.label, details: [
                "directory": Publication.directoryName(for: version), "engine": request.requirements.engine.rawValue,
                "max_lora_rank": String(request.requirements.maxLoraRank), "config_sha256": configDigest.hex,
                "base_model": config.baseModelNameOrPath ?? "",
            ])
        }
        let note = PublicationNote(baseModelRewrite: rewrite, engine: request.requirements.engine.rawValue, maxLoraRank: request.requirements.maxLoraRank)
        let statement = try provenanceStatement(
            for: version,
            subjects: [ResourceDescriptor.file(LoRAAdapter.configFileName, sha256: configDigest),
                       ResourceDescriptor.file(LoRAAdapter.weightsFileName, sha256: version.weightsDigest)],
            publication: note)
        let provenance = try DSSEEnvelope.sign(payload: statement, with: key).jsonLine()
        let predicateType = try StatementHeader.parse(statement).predicateType

        let manifest = PublicationManifest(
            format: PublicationManifest.format, reference: version.label, name: version.name, version: version.version, kind: version.kind.rawValue,
            canonicalDigest: version.canonicalDigest.hex, baseModel: config.baseModelNameOrPath,
            baseModelRewrite: rewrite.map { .init(from: $0.from, to: $0.to, registeredConfigSHA256: $0.registeredConfigSHA256) },
            engine: request.requirements.engine.rawValue, maxLoraRank: request.requirements.maxLoraRank,
            files: [.init(name: LoRAAdapter.configFileName, sha256: configDigest.hex, size: Int64(publishedConfig.count)),
                    .init(name: LoRAAdapter.weightsFileName, sha256: version.weightsDigest.hex, size: version.weightsSize)],
            provenance: .init(path: Publication.provenanceFileName, sha256: SHA256Digest.of(provenance).hex, predicateType: predicateType,
                              publicKeySHA256: key.publicKey.keyID,
                              modelSignature: ModelSigningBundle.fileName),
            quiverVersion: QuiverVersion.current)
        let manifestData = try manifest.encoded()

        let directoryName = Publication.directoryName(for: version)
        func small(_ name: String, _ data: Data) -> Publication.File {
            Publication.File(name: name, sha256: SHA256Digest.of(data), size: Int64(data.count), content: data)
        }
        var files = [
            Publication.File(name: LoRAAdapter.weightsFileName, sha256: version.weightsDigest, size: version.weightsSize, content: nil),
            small(LoRAAdapter.configFileName, publishedConfig),
            small(Publication.provenanceFileName, provenance),
        ]
        let manifestFile = small(Publication.manifestFileName, manifestData)
        let signature = try ModelSigningBundle.sign(
            modelName: directoryName, files: (files + [manifestFile]).map { .init(name: $0.name, sha256: $0.sha256) }, with: key)
        files.append(small(ModelSigningBundle.fileName, signature))
        files.append(manifestFile)
        return Publication(version: version, directoryName: directoryName, files: files)
    }

    /// A served model's name as a rewrite target: 1-256 printable characters.
    static func validateBaseModelName(_ name: String) throws {
        guard !name.isEmpty, name.count <= 256, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RegistryError(.invalidInput, code: "publish.invalid_base_model", reason: "the base model name must have 1-256 printable characters",
                                hint: "pass the name the serving engine serves the base model as (vLLM: the --model value)")
        }
    }
}
