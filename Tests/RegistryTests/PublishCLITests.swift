import Foundation
import LoRA
import Provenance
import QuiverCore
import QuiverTesting
import Registry
import Testing

/// `quiver publish`, `quiver attest` and `quiver key public` as the `quiver` process runs them (a home of their own for
/// the generated key, a scratch database, a local blob store), and the published directory checked by the real
/// OpenSSF `model_signing`.
@Suite("quiver publish / attest / key", .serialized)
struct PublishCLITests {
    struct Registry {
        let home: URL
        let database: String
        let common: [String]
        let environment: [String: String]

        init() throws {
            home = try Fixtures.temporaryDirectory("cli-publish-home")
            database = try TestPostgres.createScratchDatabase()
            common = ["--database-url", database, "--blob-store", home.appendingPathComponent("blobs").path, "--actor", "publisher"]
            environment = ["QUIVER_HOME": home.path, "QUIVER_SIGNING_KEY": "", "QUIVER_SERVER": ""]
        }

        func tearDown() {
            try? TestPostgres.dropDatabase(url: database)
            try? FileManager.default.removeItem(at: home)
        }

        @discardableResult
        func quiver(_ arguments: [String], local: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws -> ChildProcess.Outcome {
            try ChildProcess.run(Fixtures.quiverExecutable.path, arguments + (local ? common : []), environment: environment)
        }

        func succeed(_ arguments: [String], local: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            let outcome = try quiver(arguments, local: local)
            try #require(outcome.status == 0, "quiver \(arguments.joined(separator: " ")): \(outcome.status)\n\(outcome.stdout)\n\(outcome.stderr)", sourceLocation: sourceLocation)
            return outcome.stdout
        }
    }

    @Test func publishThenVerifyTheProvenanceThenBreakIt() throws {
        let registry = try Registry()
        defer { registry.tearDown() }
        _ = try registry.succeed(["register", RegistryFixture.golden("a1").path, "--name", "tone"])
        _ = try registry.succeed(["register", RegistryFixture.golden("a2").path, "--name", "json"])
        _ = try registry.succeed(["merge", "--method", "ties", "--density", "0.5", "--into", "blend", "tone", "json"])
        let out = registry.home.appendingPathComponent("serve", isDirectory: true)

        // A refusal: exit 2, the named error, nothing written.
        let refused = try registry.quiver(["publish", "blend", "--to", out.path, "--max-lora-rank", "4", "--json"])
        #expect(refused.status == 2, "\(refused)")
        #expect(refused.stdout.contains(#""code" : "publish.rank_exceeds_engine_limit""#), "\(refused.stdout)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let usage = try registry.quiver(["publish", "blend", "--to", out.path, "--max-lora-rank", "0"])
        #expect(usage.status == 64, "\(usage)")

        let published = try registry.succeed(["publish", "blend", "--to", out.path, "--base-model", "/models/tiny"])
        #expect(published.hasPrefix("published blend@1 as \(out.path)/blend-"), "\(published)")
        #expect(published.contains("base model quiver-fixtures/tiny-llama -> /models/tiny"), "\(published)")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: out.path).first)
        let directory = out.appendingPathComponent(name, isDirectory: true)
        let provenance = directory.appendingPathComponent("provenance.intoto.jsonl").path
        #expect(try registry.succeed(["publish", "blend@1", "--to", out.path, "--base-model", "/models/tiny"]).hasPrefix("already published: blend@1"))

        // The public key, and verification with it or with the registry's own.
        let pem = try registry.succeed(["key", "public"], local: false)
        #expect(pem.hasPrefix("-----BEGIN PUBLIC KEY-----\n") && pem.hasSuffix("-----END PUBLIC KEY-----\n"))
        let keyFile = registry.home.appendingPathComponent("quiver.pub")
        try Data(pem.utf8).write(to: keyFile)
        let keyAttributes = try FileManager.default.attributesOfItem(atPath: registry.home.appendingPathComponent("keys/signing-key.pem").path)
        #expect((keyAttributes[.posixPermissions] as? Int) == 0o600)
        let verified = try registry.succeed(["attest", "--verify", provenance, "--dir", directory.path, "--public-key", keyFile.path], local: false)
        #expect(verified.contains("ok   adapter_model.safetensors sha256:") && verified.contains("(re-hashed)"), "\(verified)")
        #expect(verified.contains("verified \(provenance): https://slsa.dev/provenance/v1 over 2 file(s), re-hashed in \(directory.path)"), "\(verified)")
        _ = try registry.succeed(["attest", "--verify", provenance, "--dir", directory.path], local: false)

        // attest REF --output: the registered files, verified against a pull.
        let attestation = registry.home.appendingPathComponent("blend.intoto.jsonl").path
        _ = try registry.succeed(["attest", "blend", "--output", attestation])
        let pulled = registry.home.appendingPathComponent("pulled", isDirectory: true)
        _ = try registry.succeed(["pull", "blend", "--output", pulled.path])
        _ = try registry.succeed(["attest", "--verify", attestation, "--dir", pulled.path, "--public-key", keyFile.path], local: false)

        // OpenSSF model signing accepts the published directory as it is.
        if ModelSigningTool.executable != nil {
            let accepted = try ModelSigningTool.verify(directory: directory, publicKey: keyFile)
            #expect(accepted.status == 0, "\(accepted.stdout)\n\(accepted.stderr)")
        }

        // One changed byte of a file: exit 1, named.
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        let weights = try Data(contentsOf: weightsURL)
        var changed = weights
        changed[changed.count - 1] ^= 0x01
        try changed.write(to: weightsURL)
        let broken = try registry.quiver(["attest", "--verify", provenance, "--dir", directory.path, "--public-key", keyFile.path], local: false)
        #expect(broken.status == 1 && broken.stderr.hasPrefix("error: provenance.subject_mismatch: adapter_model.safetensors hashes to"), "\(broken)")
        if ModelSigningTool.executable != nil {
            let refused = try ModelSigningTool.verify(directory: directory, publicKey: keyFile)
            #expect(refused.status != 0, "model_signing refuses the changed directory: \(refused.stdout)")
        }
        try weights.write(to: weightsURL)

        // One changed byte of the statement: the signature no longer verifies.
        let envelope = try DSSEEnvelope.parse(try Data(contentsOf: URL(fileURLWithPath: provenance)))
        var statement = try #require(Data(base64Encoded: envelope.payload))
        let at = try #require(statement.firstIndex(of: UInt8(ascii: "0")))
        statement[at] = UInt8(ascii: "1")
        let forged = DSSEEnvelope(payloadType: envelope.payloadType, payload: statement.base64EncodedString(), signatures: envelope.signatures)
        try forged.jsonLine().write(to: URL(fileURLWithPath: provenance))
        let unsigned = try registry.quiver(["attest", "--verify", provenance, "--public-key", keyFile.path], local: false)
        #expect(unsigned.status == 1 && unsigned.stderr.hasPrefix("error: provenance.bad_signature: "), "\(unsigned)")
        let json = try registry.quiver(["attest", "--verify", provenance, "--dir", directory.path, "--json"], local: false)
        #expect(json.status == 1 && json.stdout.contains(#""kind" : "integrity""#), "\(json)")
        // A key from elsewhere does not verify the untouched attestation either.
        try envelope.jsonLine().write(to: URL(fileURLWithPath: provenance))
        let otherKey = registry.home.appendingPathComponent("other.pub")
        try Data(SigningKey.generate().publicKey.pem.utf8).write(to: otherKey)
        #expect(try registry.quiver(["attest", "--verify", provenance, "--public-key", otherKey.path], local: false).status == 1)
    }

    @Test func aConfiguredKeyIsUsedAndAMissingOneIsRefusedWithoutItsPath() throws {
        let registry = try Registry()
        defer { registry.tearDown() }
        let keyPath = registry.home.appendingPathComponent("ops-key.pem")
        _ = try ChildProcess.check("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyPath.path])
        let expected = try ChildProcess.check("openssl", ["ec", "-in", keyPath.path, "-pubout"])
        let configured = try ChildProcess.run(Fixtures.quiverExecutable.path, ["key", "public"],
                                              environment: registry.environment.merging(["QUIVER_SIGNING_KEY": keyPath.path]) { $1 })
        #expect(configured.status == 0 && configured.stdout == expected + "\n", "\(configured)")
        let missing = registry.home.appendingPathComponent("nowhere/key.pem").path
        let refused = try ChildProcess.run(Fixtures.quiverExecutable.path, ["key", "public"],
                                           environment: registry.environment.merging(["QUIVER_SIGNING_KEY": missing]) { $1 })
        #expect(refused.status == 2 && refused.stderr.hasPrefix("error: provenance.signing_key_missing"), "\(refused)")
        #expect(!refused.stderr.contains(missing), "the key's path is never printed")
        // The server checks its key at start: a missing one stops it there (never a log line with the path).
        let serve = try ChildProcess.run(
            Fixtures.quiverExecutable.path, ["serve", "--port", String(try TestServer.freeLoopbackPort())] + registry.common,
            environment: registry.environment.merging(["QUIVER_SIGNING_KEY": missing]) { $1 })
        #expect(serve.status == 2 && serve.stderr.contains("error: provenance.signing_key_missing") && !serve.stderr.contains(missing), "\(serve)")

        // Verifying never generates the default key: with none yet, it asks for the key that signed.
        let attestation = registry.home.appendingPathComponent("signed.intoto.jsonl")
        try DSSEEnvelope.sign(payload: Data("{}".utf8), with: SigningKey.generate()).jsonLine().write(to: attestation)
        let keyless = try registry.quiver(["attest", "--verify", attestation.path], local: false)
        #expect(keyless.status == 2 && keyless.stderr.hasPrefix("error: provenance.signing_key_missing: ") && keyless.stderr.contains("--public-key"), "\(keyless)")
        #expect(!FileManager.default.fileExists(atPath: registry.home.appendingPathComponent("keys").path))
    }
}

/// What the serving engines refuse, decided without I/O.
@Suite("publish: serving engine rules")
struct ServingEngineRulesTests {
    static func config(r: Int = 8) -> AdapterConfig {
        AdapterConfig(baseModelNameOrPath: "base", r: r, loraAlpha: 16, targetModules: .list(["q_proj", "v_proj"]))
    }

    static let modules = [RecordedModule(path: "model.layers.0.self_attn.q_proj", rank: 8, alpha: 16, scaling: 2, inFeatures: 64, outFeatures: 64, dtype: "F32")]

    func code(_ config: AdapterConfig, _ requirements: EngineRequirements = EngineRequirements(), modules: [RecordedModule] = modules) -> String? {
        do {
            try ServingEngineRules.check(config: config, modules: modules, label: "x@1", requirements: requirements)
            return nil
        } catch let error as RegistryError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    @Test func eachRuleHasItsOwnCode() {
        #expect(code(Self.config()) == nil)
        #expect(code(Self.config(r: 32)) == "publish.rank_exceeds_engine_limit")
        var pattern = Self.config()
        pattern.rankPattern = ["layers.1.self_attn.v_proj": 64]
        #expect(code(pattern) == "publish.rank_exceeds_engine_limit", "a rank_pattern value counts")
        #expect(code(pattern, EngineRequirements(maxLoraRank: 64)) == nil)
        var dora = Self.config()
        dora.useDora = true
        #expect(code(dora) == "publish.dora_unsupported")
        #expect(code(dora, EngineRequirements(engine: .lorax)) == nil)
        var saved = Self.config()
        saved.modulesToSave = ["lm_head"]
        #expect(code(saved) == "publish.modules_to_save_unsupported")
        saved.modulesToSave = []
        #expect(code(saved) == nil, "an empty modules_to_save is none")
        var bias = Self.config()
        bias.bias = "lora_only"
        #expect(code(bias) == "publish.bias_unsupported")
        #expect(code(Self.config(), EngineRequirements(baseModules: ["k_proj"])) == "publish.unknown_target_module")
        #expect(code(Self.config(), EngineRequirements(baseModules: ["q_proj", "k_proj"])) == nil)
    }

    @Test func aBaseConfigNamesItsModulesByArchitecture() throws {
        #expect(try BaseArchitecture.modules(configJSON: Data(#"{"model_type": "llama", "hidden_size": 64}"#.utf8), file: "config.json").contains("down_proj"))
        #expect(throws: RegistryError(.invalidInput, code: "publish.unknown_base_architecture", reason: "")) {
            try BaseArchitecture.modules(configJSON: Data(#"{"model_type": "mamba"}"#.utf8), file: "config.json")
        }
        #expect(throws: RegistryError(.invalidInput, code: "publish.bad_base_config", reason: "")) {
            try BaseArchitecture.modules(configJSON: Data("[1]".utf8), file: "config.json")
        }
    }
}
