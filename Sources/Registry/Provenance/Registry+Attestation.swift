import Foundation
import LoRA
import Merge
import Provenance
import QuiverCore

extension Registry {
    /// The registry's public key, PEM (what `quiver key public` prints and `GET /v1/signing-key` answers).
    public func signingPublicKey() throws -> String {
        try signingKey.load().publicKey.pem
    }

    /// The version's signed provenance: an in-toto statement whose subjects are its two files, with an SLSA
    /// provenance v1 predicate for a merged version (``SLSAProvenance``), else Quiver's registration predicate,
    /// in a DSSE envelope signed with the registry's key.
    public func attestation(of version: AdapterVersion) throws -> DSSEEnvelope {
        let subjects = [
            ResourceDescriptor.file(LoRAAdapter.configFileName, sha256: version.configDigest),
            ResourceDescriptor.file(LoRAAdapter.weightsFileName, sha256: version.weightsDigest),
        ]
        return try DSSEEnvelope.sign(payload: try provenanceStatement(for: version, subjects: subjects, publication: nil), with: try signingKey.load())
    }

    /// The attestation of the version a reference names.
    public func attestation(of ref: AdapterRef) throws -> DSSEEnvelope {
        try attestation(of: try resolve(ref))
    }

    /// The statement's payload for `version` with these subjects (the registered files, or a published directory's).
    func provenanceStatement(for version: AdapterVersion, subjects: [ResourceDescriptor], publication: PublicationNote?) throws -> Data {
        let (merge, parents, head) = try catalog.read { session -> (MergeRecord?, [AdapterVersion], AttestedChainHead?) in
            let head = try session.audit.head().map { AttestedChainHead(position: $0.position, sha256: $0.hash) }
            guard version.kind == .merged, let merge = try session.merges.records(producing: [version.id]).first else { return (nil, [], head) }
            var parents: [AdapterVersion] = []
            for label in merge.inputs {
                guard let at = label.lastIndex(of: "@"), let number = Int(label[label.index(after: at)...]),
                      let parent = try session.versions.version(name: String(label[..<at]), number: number)
                else { throw RegistryError.internal("the recorded input \(label) of merge \(merge.id) is not in the catalog") }
                parents.append(parent)
            }
            return (merge, parents, head)
        }
        guard let merge else {
            let predicate = RegistrationPredicate(
                version: .init(
                    name: version.name, version: version.version, kind: version.kind.rawValue, canonicalDigest: version.canonicalDigest.hex,
                    baseModel: version.baseModel, baseRevision: version.baseRevision, rank: version.rank, loraAlpha: version.loraAlpha,
                    useRslora: version.useRslora, useDora: version.useDora, targetModules: version.targetModules, tags: version.tags),
                registeredBy: version.createdBy, registeredAt: version.createdAt,
                attestedBy: .init(id: ProvenanceTypes.builderID(QuiverVersion.current), version: ["quiver": QuiverVersion.current]),
                auditChainHead: head, publication: publication)
            return try InTotoStatement(subject: subjects, predicateType: ProvenanceTypes.registrationPredicate, predicate: predicate).payload()
        }
        let request: MergeRequest
        do {
            request = try JSONDecoder().decode(MergeRequest.self, from: Data(merge.params.utf8))
        } catch {
            throw RegistryError.internal("the recorded parameters of merge \(merge.id) do not decode: \(error)")
        }
        let inputs = zip(parents, merge.weights).map { MergeRecipe.Input(ref: $0.label, canonicalDigest: $0.canonicalDigest.hex, weight: $1) }
        var dependencies: [ResourceDescriptor] = []
        var seen: Set<Int64> = []
        for parent in parents where seen.insert(parent.id).inserted {
            let annotations: [String: AttestationJSON] = [
                "version": .string(parent.label), "kind": .string(parent.kind.rawValue), "canonicalDigest": .string(parent.canonicalDigest.hex),
            ]
            dependencies.append(ResourceDescriptor(
                name: "\(parent.label)/\(LoRAAdapter.configFileName)", digest: ["sha256": parent.configDigest.hex], annotations: annotations))
            dependencies.append(ResourceDescriptor(
                name: "\(parent.label)/\(LoRAAdapter.weightsFileName)", digest: ["sha256": parent.weightsDigest.hex], annotations: annotations))
        }
        dependencies.append(Self.baseModelDescriptor(name: version.baseModel, revision: version.baseRevision))
        let predicate = SLSAProvenance(
            buildDefinition: .init(
                buildType: ProvenanceTypes.mergeBuildType,
                externalParameters: MergeRecipe(request: request, inputs: inputs, into: version.name),
                internalParameters: .init(mergeId: merge.id, output: version.label, outputCanonicalDigest: version.canonicalDigest.hex,
                                          publication: publication),
                resolvedDependencies: dependencies),
            runDetails: .init(
                builder: .init(id: ProvenanceTypes.builderID(merge.softwareVersion), version: ["quiver": merge.softwareVersion]),
                metadata: .init(invocationId: "merge/\(merge.id)", finishedOn: merge.at, requestedBy: merge.requestedBy, auditChainHead: head)))
        return try InTotoStatement(subject: subjects, predicateType: ProvenanceTypes.slsaProvenance, predicate: predicate).payload()
    }

    /// The base model as a dependency: its name and revision; a git commit revision (40 hex, as the Hugging Face hub
    /// names them) is also given as the digest `gitCommit`. The registry records no digest of the base model's
    /// weights, so none is claimed. in-toto wants a `uri` or a digest on every descriptor: a hub id (`org/name`) is
    /// given as a package URL, `pkg:huggingface/org/name[@revision]`, an absolute path as a `file://` URI.
    static func baseModelDescriptor(name: String, revision: String) -> ResourceDescriptor {
        var annotations: [String: AttestationJSON] = ["role": .string("base_model")]
        if !revision.isEmpty { annotations["revision"] = .string(revision) }
        let isCommit = revision.utf8.count == 40 && revision.lowercased().utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
        var uri: String?
        let hubID = name.split(separator: "/", omittingEmptySubsequences: false).count <= 2 && !name.isEmpty
            && !name.hasPrefix(".") && !name.hasPrefix("/") && !name.hasPrefix("~")
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_./".unicodeScalars.contains($0)) }
        if hubID {
            let version = revision.isEmpty ? "" : "@" + (revision.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? revision)
            uri = "pkg:huggingface/\(name)\(version)"
        } else if name.hasPrefix("/") {
            uri = URL(fileURLWithPath: name).absoluteString
        }
        return ResourceDescriptor(name: name.isEmpty ? "unknown base model" : name, uri: uri,
                                  digest: isCommit ? ["gitCommit": revision.lowercased()] : nil, annotations: annotations)
    }
}
