import Foundation
import LoRA
import Merge
import ObjectStore
import Provenance
import QuiverCore
import QuiverTesting
import Registry
import Testing

/// `publish` and the signed provenance on a real registry (scratch PostgreSQL database, SeaweedFS prefix): what the
/// serving engines refuse, the digest-named directory that is never overwritten, the SLSA statement of a merge, and
/// the whole chain through the `quiver` process (attest --verify, OpenSSF model_signing).
@Suite("publish and signed provenance", .serialized)
struct PublishTests {
    static func extra(_ name: String) -> URL { Fixtures.peftExtra.appendingPathComponent(name, isDirectory: true) }

    /// A registry with tone (a1), json (a2) and their TIES merge blend@1.
    static func withBlend(_ body: (RegistryFixture, AdapterVersion) throws -> Void) throws {
        try RegistryFixture.with { fixture in
            let registry = fixture.registry
            _ = try registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try registry.register(directory: RegistryFixture.golden("a2"), name: "json")
            let merged = try registry.merge(inputs: [.latest(name: "tone"), .latest(name: "json")], into: "blend",
                                            request: MergeRequest(method: .ties, weights: [0.6, 0.4], density: 0.5))
            try body(fixture, merged.version)
        }
    }

    @Test func eachEngineRefusalIsNamedAndWritesNothing() throws {
        try RegistryFixture.with { fixture in
            let registry = fixture.registry
            _ = try registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            _ = try registry.register(directory: RegistryFixture.golden("a6_dora"), name: "dora")
            _ = try registry.register(directory: Self.extra("lm_head_saved"), name: "saved")
            _ = try registry.register(directory: Self.extra("bias_all"), name: "biased")
            _ = try registry.register(directory: RegistryFixture.golden("a8_pattern"), name: "pattern")
            let cases: [(String, EngineRequirements, String)] = [
                ("tone", EngineRequirements(maxLoraRank: 4), "publish.rank_exceeds_engine_limit"),
                ("tone", EngineRequirements(engine: .lorax, maxLoraRank: 4), "publish.rank_exceeds_engine_limit"),
                ("pattern", EngineRequirements(maxLoraRank: 4), "publish.rank_exceeds_engine_limit"),
                ("dora", EngineRequirements(), "publish.dora_unsupported"),
                ("saved", EngineRequirements(), "publish.modules_to_save_unsupported"),
                ("biased", EngineRequirements(), "publish.bias_unsupported"),
                ("tone", EngineRequirements(baseModules: ["k_proj", "o_proj", "gate_proj"]), "publish.unknown_target_module"),
            ]
            let root = try Fixtures.temporaryDirectory("publish-refused")
            defer { try? FileManager.default.removeItem(at: root) }
            for (name, requirements, code) in cases {
                let target = root.appendingPathComponent("out-\(name)-\(code)", isDirectory: true)
                do {
                    _ = try registry.publish(.latest(name: name), request: PublishRequest(requirements: requirements), to: .directory(target))
                    Issue.record("\(name) with \(requirements) was published")
                } catch let error as RegistryError {
                    #expect(error.code == code, "\(name): \(error)")
                    #expect(error.errorKind == .refusal)
                }
                #expect(!FileManager.default.fileExists(atPath: target.path), "\(name) (\(code)): nothing is written")
            }
            #expect(try fixture.count("SELECT count(*) FROM audit_events WHERE action = 'version.publish'") == 0, "a refusal records no publication")
            // What passes: the same adapters for the engine that accepts them, and modules the base has.
            let lorax = root.appendingPathComponent("lorax", isDirectory: true)
            _ = try registry.publish(.latest(name: "dora"), request: PublishRequest(requirements: EngineRequirements(engine: .lorax)), to: .directory(lorax))
            _ = try registry.publish(.latest(name: "tone"), request: PublishRequest(requirements: EngineRequirements(baseModules: BaseArchitecture.modules["llama"])),
                                     to: .directory(root.appendingPathComponent("llama", isDirectory: true)))
        }
    }

    @Test func aPublishedDirectoryIsSignedIdempotentAndNeverOverwritten() throws {
        try Self.withBlend { fixture, blend in
            let registry = fixture.registry
            let root = try Fixtures.temporaryDirectory("publish-dir")
            defer { try? FileManager.default.removeItem(at: root) }
            let first = try registry.publish(.latest(name: "blend"), request: PublishRequest(), to: .directory(root))
            #expect(!first.alreadyPublished)
            #expect(try fixture.count("SELECT count(*) FROM audit_events WHERE action = 'version.publish' AND subject = 'blend@1' AND actor = 'tester'") == 1)
            #expect(first.directoryName == "blend-\(blend.canonicalDigest.hex.prefix(12))")
            let directory = root.appendingPathComponent(first.directoryName, isDirectory: true)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            #expect(names == ["adapter_config.json", "adapter_model.safetensors", "model.sig", "provenance.intoto.jsonl", "quiver.json"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == [first.directoryName], "no temporary left behind")
            // The adapter files are the registered ones; quiver.json names them with their digests.
            #expect(try SHA256Digest.ofFile(at: directory.appendingPathComponent("adapter_config.json")) == blend.configDigest)
            #expect(try SHA256Digest.ofFile(at: directory.appendingPathComponent("adapter_model.safetensors")) == blend.weightsDigest)
            let manifest = try JSONDecoder().decode(PublicationManifest.self, from: Data(contentsOf: directory.appendingPathComponent("quiver.json")))
            #expect(manifest.reference == "blend@1" && manifest.canonicalDigest == blend.canonicalDigest.hex && manifest.baseModelRewrite == nil)
            #expect(manifest.files.map(\.sha256) == [blend.configDigest.hex, blend.weightsDigest.hex])
            #expect(manifest.provenance.path == "provenance.intoto.jsonl" && manifest.provenance.predicateType == "https://slsa.dev/provenance/v1")
            #expect(manifest.provenance.publicKeySHA256 == (try PublicKey(pem: registry.signingPublicKey())).keyID)
            // The provenance verifies and names exactly the files on disk; model.sig lists every file but itself.
            let key = try PublicKey(pem: try registry.signingPublicKey())
            let envelope = try DSSEEnvelope.parse(try Data(contentsOf: directory.appendingPathComponent("provenance.intoto.jsonl")))
            #expect(try AttestationVerifier.verify(envelope, key: key, directory: directory).subjects.count == 2)
            let signed = try ModelSigningBundle.verify(try Data(contentsOf: directory.appendingPathComponent("model.sig")), with: key)
            #expect(signed.map(\.name) == ["adapter_config.json", "adapter_model.safetensors", "provenance.intoto.jsonl", "quiver.json"])
            for file in signed { #expect(try SHA256Digest.ofFile(at: directory.appendingPathComponent(file.name)) == file.sha256, "\(file.name)") }

            // The same content again: nothing is written, the files stay as they are (same signature bytes).
            let signature = try Data(contentsOf: directory.appendingPathComponent("model.sig"))
            let again = try registry.publish(.version(name: "blend", number: 1), request: PublishRequest(), to: .directory(root))
            #expect(again.alreadyPublished && again.location == first.location)
            #expect(try Data(contentsOf: directory.appendingPathComponent("model.sig")) == signature)
            // Another engine or limit does not change what is served: still the same content.
            #expect(try registry.publish(.latest(name: "blend"), request: PublishRequest(requirements: EngineRequirements(engine: .lorax, maxLoraRank: 64)),
                                         to: .directory(root)).alreadyPublished)

            // Different content under the same name (another base model) is refused and nothing changes.
            let config = try Data(contentsOf: directory.appendingPathComponent("adapter_config.json"))
            #expect(throws: RegistryError(.conflict, code: "publish.conflict", reason: "")) {
                try registry.publish(.latest(name: "blend"), request: PublishRequest(baseModel: "served-llama"), to: .directory(root))
            }
            #expect(try Data(contentsOf: directory.appendingPathComponent("adapter_config.json")) == config)
            #expect(try Data(contentsOf: directory.appendingPathComponent("model.sig")) == signature)

            // A changed file under the name is not the same content either.
            let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
            var weights = try Data(contentsOf: weightsURL)
            weights[weights.count / 2] ^= 0x01
            try weights.write(to: weightsURL)
            #expect(throws: RegistryError(.conflict, code: "publish.conflict", reason: "")) {
                try registry.publish(.latest(name: "blend"), request: PublishRequest(), to: .directory(root))
            }
            #expect(try Data(contentsOf: weightsURL) == weights, "never repaired in place either")

            // Something that is not a publication under the name is left alone.
            let other = try Fixtures.temporaryDirectory("publish-other")
            defer { try? FileManager.default.removeItem(at: other) }
            let squatter = other.appendingPathComponent(first.directoryName, isDirectory: true)
            try FileManager.default.createDirectory(at: squatter, withIntermediateDirectories: true)
            try Data("mine".utf8).write(to: squatter.appendingPathComponent("notes.txt"))
            #expect(throws: RegistryError(.conflict, code: "publish.conflict", reason: "")) {
                try registry.publish(.latest(name: "blend"), request: PublishRequest(), to: .directory(other))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: squatter.path) == ["notes.txt"])
        }
    }

    @Test func theBaseModelRewriteIsRecordedInTheManifestAndTheProvenance() throws {
        try Self.withBlend { fixture, blend in
            let registry = fixture.registry
            let root = try Fixtures.temporaryDirectory("publish-rewrite")
            defer { try? FileManager.default.removeItem(at: root) }
            let outcome = try registry.publish(.latest(name: "blend"), request: PublishRequest(baseModel: "/models/tiny-llama"), to: .directory(root))
            let directory = root.appendingPathComponent(outcome.directoryName, isDirectory: true)
            let config = try AdapterConfig.parse(try Data(contentsOf: directory.appendingPathComponent("adapter_config.json")), file: "published")
            #expect(config.baseModelNameOrPath == "/models/tiny-llama")
            let rewrite = try #require(outcome.manifest.baseModelRewrite)
            #expect(rewrite.from == "quiver-fixtures/tiny-llama" && rewrite.to == "/models/tiny-llama" && rewrite.registeredConfigSHA256 == blend.configDigest.hex)
            // Everything but the base model's name is as registered.
            var registered = try AdapterConfig.parse(try registry.blobs.getData(digest: blend.configDigest), file: "registered")
            registered.baseModelNameOrPath = "/models/tiny-llama"
            #expect(registered == config)

            let key = try PublicKey(pem: try registry.signingPublicKey())
            let envelope = try DSSEEnvelope.parse(try Data(contentsOf: directory.appendingPathComponent("provenance.intoto.jsonl")))
            let check = try AttestationVerifier.verify(envelope, key: key, directory: directory)
            #expect(check.subjects.first { $0.name == "adapter_config.json" }?.sha256 == outcome.manifest.files[0].sha256)
            let statement = try Self.statement(envelope, key: key)
            let build = (statement["predicate"] as? [String: Any])?["buildDefinition"] as? [String: Any]
            let publication = (build?["internalParameters"] as? [String: Any])?["publication"] as? [String: Any]
            let recorded = publication?["baseModelRewrite"] as? [String: Any]
            #expect(recorded?["from"] as? String == "quiver-fixtures/tiny-llama" && recorded?["to"] as? String == "/models/tiny-llama", "\(statement)")
        }
    }

    @Test func aMergeIsAttestedAsSLSAProvenanceAndATrainedVersionAsARegistration() throws {
        try Self.withBlend { fixture, blend in
            let registry = fixture.registry
            let key = try PublicKey(pem: try registry.signingPublicKey())
            let envelope = try registry.attestation(of: blend)
            let statement = try Self.statement(envelope, key: key)
            #expect(statement["_type"] as? String == "https://in-toto.io/Statement/v1")
            #expect(statement["predicateType"] as? String == "https://slsa.dev/provenance/v1")
            let subjects = (statement["subject"] as? [[String: Any]]) ?? []
            #expect(subjects.compactMap { $0["name"] as? String } == ["adapter_config.json", "adapter_model.safetensors"])
            #expect(subjects.compactMap { ($0["digest"] as? [String: String])?["sha256"] } == [blend.configDigest.hex, blend.weightsDigest.hex])
            let predicate = try #require(statement["predicate"] as? [String: Any])
            let build = try #require(predicate["buildDefinition"] as? [String: Any])
            #expect(build["buildType"] as? String == "https://quiver.dev/buildtypes/merge/v1")
            let recipe = try #require(build["externalParameters"] as? [String: Any])
            #expect(recipe["method"] as? String == "ties" && recipe["density"] as? Double == 0.5 && recipe["weights"] as? [Double] == [0.6, 0.4])
            #expect(recipe["seed"] as? Int == 0 && recipe["majoritySign"] as? String == "total" && recipe.keys.contains("svdRank"), "every parameter, nulls too: \(recipe)")
            #expect((recipe["inputs"] as? [[String: Any]])?.compactMap { $0["ref"] as? String } == ["tone@1", "json@1"])
            let dependencies = (build["resolvedDependencies"] as? [[String: Any]]) ?? []
            let tone = try registry.resolve(.latest(name: "tone")), json = try registry.resolve(.latest(name: "json"))
            let digests = Set(dependencies.compactMap { ($0["digest"] as? [String: String])?["sha256"] })
            #expect(digests == [tone.configDigest.hex, tone.weightsDigest.hex, json.configDigest.hex, json.weightsDigest.hex])
            #expect(dependencies.contains { $0["name"] as? String == "quiver-fixtures/tiny-llama" && $0["uri"] as? String == "pkg:huggingface/quiver-fixtures/tiny-llama" && ($0["annotations"] as? [String: String])?["role"] == "base_model" })
            let run = try #require(predicate["runDetails"] as? [String: Any])
            #expect((run["builder"] as? [String: Any])?["id"] as? String == "https://quiver.dev/builder/quiver@\(QuiverVersion.current)")
            let metadata = try #require(run["metadata"] as? [String: Any])
            #expect(metadata["requestedBy"] as? String == "tester" && metadata["finishedOn"] is String && metadata["invocationId"] as? String == "merge/1")
            let head = try #require(metadata["auditChainHead"] as? [String: Any])
            #expect((head["sha256"] as? String)?.count == 64)

            let trained = try Self.statement(try registry.attestation(of: tone), key: key)
            #expect(trained["predicateType"] as? String == "https://quiver.dev/attestation/registration/v1")
            #expect(((trained["predicate"] as? [String: Any])?["version"] as? [String: Any])?["canonicalDigest"] as? String == tone.canonicalDigest.hex)
        }
    }

    @Test func publishingToS3WritesObjectsManifestLastAndNeverOverwrites() throws {
        try Self.withBlend { fixture, blend in
            let registry = fixture.registry
            let s3 = try TestS3.require()
            let prefix = "s3://\(s3.bucket)/pub-\(UUID().uuidString.lowercased())"
            let outcome = try registry.publish(.latest(name: "blend"), request: PublishRequest(), to: try PublishTarget.parse(prefix),
                                               environment: s3.awsEnvironment)
            #expect(!outcome.alreadyPublished && outcome.location == "\(prefix)/\(outcome.directoryName)")
            let client = S3Client(settings: try S3Settings.fromEnvironment(url: outcome.location, environment: s3.awsEnvironment))
            defer { for name in ["adapter_config.json", "adapter_model.safetensors", "model.sig", "provenance.intoto.jsonl", "quiver.json"] { try? client.deleteObject(key: name) } }
            #expect(SHA256Digest.of(try client.getObjectData(key: "adapter_model.safetensors")) == blend.weightsDigest)
            let manifest = try JSONDecoder().decode(PublicationManifest.self, from: try client.getObjectData(key: "quiver.json"))
            #expect(manifest.sameContent(as: outcome.manifest))
            #expect(try registry.publish(.latest(name: "blend"), request: PublishRequest(), to: try PublishTarget.parse(prefix), environment: s3.awsEnvironment).alreadyPublished)
            #expect(throws: RegistryError(.conflict, code: "publish.conflict", reason: "")) {
                try registry.publish(.latest(name: "blend"), request: PublishRequest(baseModel: "other"), to: try PublishTarget.parse(prefix), environment: s3.awsEnvironment)
            }
            #expect(try client.getObjectData(key: "quiver.json") == (try manifest.encoded()), "untouched")
        }
    }

    @Test func aPublicationThatIsNotQuiversIsRefusedBeforeAnythingIsWritten() throws {
        try Self.withBlend { fixture, _ in
            let good = try fixture.registry.publication(of: .latest(name: "blend"), request: PublishRequest())
            let root = try Fixtures.temporaryDirectory("publish-forged")
            defer { try? FileManager.default.removeItem(at: root) }
            var forgedConfig = good.files
            if let index = forgedConfig.firstIndex(where: { $0.name == "adapter_config.json" }), let content = forgedConfig[index].content {
                forgedConfig[index] = .init(name: "adapter_config.json", sha256: forgedConfig[index].sha256, size: forgedConfig[index].size,
                                            content: content + Data(" ".utf8))
            }
            let forgeries = [
                Publication(version: good.version, directoryName: "../escaped", files: good.files),
                Publication(version: good.version, directoryName: good.directoryName, files: forgedConfig),
                Publication(version: good.version, directoryName: good.directoryName, files: good.files.filter { $0.name != "model.sig" }),
            ]
            for forged in forgeries {
                #expect(throws: RegistryError(.integrity, code: "publish.invalid_publication", reason: "")) {
                    try PublicationWriter.write(forged, to: .directory(root), environment: [:]) { _ in Issue.record("fetched weights for a forgery") }
                }
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: root.deletingLastPathComponent().appendingPathComponent("escaped").path))
        }
    }

    @Test func modelSigningAcceptsAPublishedDirectoryAndRefusesATamperedOne() throws {
        _ = try ModelSigningTool.require()
        try Self.withBlend { fixture, _ in
            let registry = fixture.registry
            let root = try Fixtures.temporaryDirectory("publish-ms")
            defer { try? FileManager.default.removeItem(at: root) }
            let outcome = try registry.publish(.latest(name: "blend"), request: PublishRequest(baseModel: "/models/tiny"), to: .directory(root))
            let directory = root.appendingPathComponent(outcome.directoryName, isDirectory: true)
            let key = fixture.home.appendingPathComponent("quiver.pub")
            try Data(try registry.signingPublicKey().utf8).write(to: key)
            let accepted = try ModelSigningTool.verify(directory: directory, publicKey: key)
            #expect(accepted.status == 0, "\(accepted.stdout)\n\(accepted.stderr)")
            // One byte of any file — the weights, the rewritten config, quiver.json, the provenance — and it refuses.
            for name in ["adapter_model.safetensors", "adapter_config.json", "quiver.json", "provenance.intoto.jsonl"] {
                let url = directory.appendingPathComponent(name)
                let original = try Data(contentsOf: url)
                var changed = original
                changed[changed.count / 3] ^= 0x01
                try changed.write(to: url)
                let refused = try ModelSigningTool.verify(directory: directory, publicKey: key)
                #expect(refused.status != 0 && (refused.stdout + refused.stderr).contains(name), "\(name): \(refused.stdout)\n\(refused.stderr)")
                try original.write(to: url)
            }
            // A file added to the directory is refused too; removed again, it verifies.
            let extra = directory.appendingPathComponent("extra.bin")
            try Data("x".utf8).write(to: extra)
            #expect(try ModelSigningTool.verify(directory: directory, publicKey: key).status != 0)
            try FileManager.default.removeItem(at: extra)
            #expect(try ModelSigningTool.verify(directory: directory, publicKey: key).status == 0)
            // Another key is refused.
            let other = fixture.home.appendingPathComponent("other.pub")
            try Data(SigningKey.generate().publicKey.pem.utf8).write(to: other)
            #expect(try ModelSigningTool.verify(directory: directory, publicKey: other).status != 0)
        }
    }

    /// The statement inside a verified envelope, as JSON.
    static func statement(_ envelope: DSSEEnvelope, key: PublicKey) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: try envelope.verifiedPayload(with: key)) as? [String: Any])
    }
}
