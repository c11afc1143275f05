import Foundation
import QuiverCore
import QuiverTesting
import Testing
@testable import Provenance

/// DSSE, keys, statements and the model-signing bundle: pure, no services (the interop suite below runs the real
/// `model_signing`).
@Suite("provenance: DSSE, keys, statements")
struct ProvenanceTests {
    @Test func paeIsTheDSSESpecsEncoding() {
        // The example of the DSSE protocol document (v1.0.0).
        let pae = DSSEEnvelope.pae(payloadType: "http://example.com/HelloWorld", payload: Data("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
        // Lengths are byte counts, not characters.
        #expect(String(decoding: DSSEEnvelope.pae(payloadType: "t", payload: Data("é".utf8)), as: UTF8.self) == "DSSEv1 1 t 2 é")
    }

    @Test func aSignedEnvelopeVerifiesAndAChangedByteDoesNot() throws {
        let key = SigningKey.generate()
        let payload = Data(#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}"#.utf8)
        let envelope = try DSSEEnvelope.sign(payload: payload, with: key)
        #expect(envelope.signatures.first?.keyid == key.publicKey.keyID)
        #expect(try envelope.verifiedPayload(with: key.publicKey) == payload)
        // The envelope survives its own file form.
        #expect(try DSSEEnvelope.parse(try envelope.jsonLine()) == envelope)

        var changed = payload
        changed[changed.count - 3] ^= 0x01
        let tampered = DSSEEnvelope(payloadType: envelope.payloadType, payload: changed.base64EncodedString(), signatures: envelope.signatures)
        #expect(throws: ProvenanceError(.integrity, code: "bad_signature", reason: "")) { try tampered.verifiedPayload(with: key.publicKey) }
        // Another key does not verify it either.
        #expect(throws: ProvenanceError(.integrity, code: "bad_signature", reason: "")) { try envelope.verifiedPayload(with: SigningKey.generate().publicKey) }
        // A changed payload type changes the signed bytes too.
        let retyped = DSSEEnvelope(payloadType: "application/json", payload: envelope.payload, signatures: envelope.signatures)
        #expect(throws: ProvenanceError(.integrity, code: "malformed_attestation", reason: "")) { try retyped.verifiedPayload(with: key.publicKey) }
        #expect(throws: ProvenanceError(.integrity, code: "malformed_attestation", reason: "")) { try DSSEEnvelope.parse(Data("not json".utf8)) }
    }

    @Test func keysInteroperateWithOpenSSL() throws {
        let scratch = try Fixtures.temporaryDirectory("prov-openssl")
        defer { try? FileManager.default.removeItem(at: scratch) }
        // A SEC 1 key as `openssl ecparam -genkey` writes it loads, and our public PEM is byte for byte OpenSSL's
        // (its sha256 is the key id model_signing compares).
        let privatePath = scratch.appendingPathComponent("key.pem").path, publicPath = scratch.appendingPathComponent("pub.pem").path
        _ = try ChildProcess.check("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", privatePath])
        _ = try ChildProcess.check("openssl", ["ec", "-in", privatePath, "-pubout", "-out", publicPath])
        let key = try SigningKey(pem: try String(contentsOfFile: privatePath, encoding: .utf8))
        let openSSLPublic = try String(contentsOfFile: publicPath, encoding: .utf8)
        #expect(key.publicKey.pem == openSSLPublic)
        #expect(try PublicKey(pem: openSSLPublic) == key.publicKey)
        // Our PKCS#8 PEM is a key OpenSSL reads, and a signature of ours verifies with OpenSSL.
        let ours = SigningKey.generate()
        let oursPath = scratch.appendingPathComponent("ours.pem")
        try Data(ours.pem.utf8).write(to: oursPath)
        let derived = try ChildProcess.check("openssl", ["pkey", "-in", oursPath.path, "-pubout"])
        #expect(derived + "\n" == ours.publicKey.pem, "check trims the final newline")
        let message = scratch.appendingPathComponent("message"), signature = scratch.appendingPathComponent("sig.der")
        try Data("signed by quiver".utf8).write(to: message)
        try ours.sign(Data("signed by quiver".utf8)).write(to: signature)
        try Data(ours.publicKey.pem.utf8).write(to: scratch.appendingPathComponent("ours.pub"))
        let verified = try ChildProcess.run("openssl", ["dgst", "-sha256", "-verify", scratch.appendingPathComponent("ours.pub").path,
                                                        "-signature", signature.path, message.path])
        #expect(verified.status == 0 && verified.stdout.contains("Verified OK"), "\(verified.stdout) \(verified.stderr)")
        #expect(!"\(ours)".contains("PRIVATE") && !String(reflecting: ours).contains(ours.pem.split(separator: "\n")[1]), "a key prints as its id only")
        #expect(throws: ProvenanceError(.invalidInput, code: "bad_signing_key", reason: "")) { try SigningKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }

    @Test func theDefaultKeyIsGeneratedOncePrivatelyAndAConfiguredOneMustExist() throws {
        let home = try Fixtures.temporaryDirectory("prov-home")
        defer { try? FileManager.default.removeItem(at: home) }
        let location = SigningKeyLocation.resolve(environment: [:], home: home)
        #expect(location.createIfMissing && location.path.path.hasSuffix("/keys/signing-key.pem"))
        let first = try location.load(), second = try location.load()
        #expect(first.publicKey == second.publicKey, "the generated key is kept")
        let attributes = try FileManager.default.attributesOfItem(atPath: location.path.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let directoryAttributes = try FileManager.default.attributesOfItem(atPath: location.path.deletingLastPathComponent().path)
        #expect((directoryAttributes[.posixPermissions] as? Int) == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: location.path.deletingLastPathComponent().path) == ["signing-key.pem"])

        // A home the key creates is not closed like the key's directory: the embedded PostgreSQL's server user
        // must still reach its own directory inside it.
        let fresh = home.appendingPathComponent("fresh-home", isDirectory: true)
        _ = try SigningKeyLocation.resolve(environment: [:], home: fresh).load()
        let reference = home.appendingPathComponent("reference", isDirectory: true)
        try FileManager.default.createDirectory(at: reference, withIntermediateDirectories: true)
        func mode(_ url: URL) throws -> Int? { try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int }
        #expect(try mode(fresh) != nil && mode(fresh) == mode(reference), "the home has the mode any new directory gets")
        #expect(try mode(fresh.appendingPathComponent("keys")) == 0o700)

        let configured = SigningKeyLocation.resolve(environment: ["QUIVER_SIGNING_KEY": home.appendingPathComponent("absent.pem").path], home: home)
        #expect(!configured.createIfMissing)
        do {
            _ = try configured.load()
            Issue.record("a missing configured key was accepted")
        } catch let error as ProvenanceError {
            #expect(error.code == "provenance.signing_key_missing")
            #expect(!error.description.contains(home.path), "the key's path is never printed")
        }
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("absent.pem").path), "a configured key is never generated")
    }

    @Test func subjectsAreReHashedAndAChangedByteIsAnIntegrityError() throws {
        let directory = try Fixtures.temporaryDirectory("prov-subjects")
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try weights.write(to: directory.appendingPathComponent("adapter_model.safetensors"))
        try Data("{}".utf8).write(to: directory.appendingPathComponent("adapter_config.json"))
        let statement = InTotoStatement(
            subject: [.file("adapter_config.json", sha256: SHA256Digest.of(Data("{}".utf8))), .file("adapter_model.safetensors", sha256: SHA256Digest.of(weights))],
            predicateType: "https://example.com/test", predicate: AttestationJSON.object([:]))
        let key = SigningKey.generate()
        let envelope = try DSSEEnvelope.sign(payload: try statement.payload(), with: key)
        let check = try AttestationVerifier.verify(envelope, key: key.publicKey, directory: directory)
        #expect(check.subjects.map(\.rehashed) == [true, true])
        #expect(try AttestationVerifier.verify(envelope, key: key.publicKey, directory: nil).subjects.map(\.rehashed) == [nil, nil])

        var changed = weights
        changed[2000] ^= 0x80
        try changed.write(to: directory.appendingPathComponent("adapter_model.safetensors"))
        #expect(throws: ProvenanceError(.integrity, code: "subject_mismatch", reason: "")) {
            try AttestationVerifier.verify(envelope, key: key.publicKey, directory: directory)
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("adapter_model.safetensors"))
        #expect(throws: ProvenanceError(.integrity, code: "subject_missing", reason: "")) {
            try AttestationVerifier.verify(envelope, key: key.publicKey, directory: directory)
        }
    }

    @Test func theModelSigningStatementHasTheToolsShape() throws {
        let files = [ModelSigningBundle.File(name: "b.bin", sha256: SHA256Digest.of(Data("b".utf8))),
                     ModelSigningBundle.File(name: "a.json", sha256: SHA256Digest.of(Data("a".utf8)))]
        let statement = try JSONSerialization.jsonObject(with: try ModelSigningBundle.statement(modelName: "m-0123", files: files)) as? [String: Any]
        #expect(statement?["_type"] as? String == "https://in-toto.io/Statement/v1")
        #expect(statement?["predicateType"] as? String == "https://model_signing/signature/v1.0")
        let subject = (statement?["subject"] as? [[String: Any]])?.first
        #expect(subject?["name"] as? String == "m-0123")
        // The root digest is the sha256 of the raw per-file digests in name order.
        var hasher = SHA256Hasher()
        hasher.update(Data(ModelSigningBundle.bytes(ofHex: SHA256Digest.of(Data("a".utf8)).hex)))
        hasher.update(Data(ModelSigningBundle.bytes(ofHex: SHA256Digest.of(Data("b".utf8)).hex)))
        #expect((subject?["digest"] as? [String: String])?["sha256"] == hasher.finalize().hex)
        let resources = ((statement?["predicate"] as? [String: Any])?["resources"] as? [[String: String]]) ?? []
        #expect(resources.map { $0["name"] } == ["a.json", "b.bin"])

        let key = SigningKey.generate()
        let bundle = try ModelSigningBundle.sign(modelName: "m-0123", files: files, with: key)
        #expect(try ModelSigningBundle.verify(bundle, with: key.publicKey).map(\.name) == ["a.json", "b.bin"])
        #expect(throws: ProvenanceError(.integrity, code: "key_mismatch", reason: "")) { try ModelSigningBundle.verify(bundle, with: SigningKey.generate().publicKey) }
    }
}

/// The real `model_signing verify key` (OpenSSF, installed by scripts/services/model-signing.sh) against a
/// directory signed here: accepted, then refused after one changed byte.
@Suite("provenance: OpenSSF model_signing interop", .serialized)
struct ModelSigningInteropTests {
    @Test func modelSigningAcceptsOurSignatureAndRefusesAChangedByte() throws {
        _ = try ModelSigningTool.require()
        let root = try Fixtures.temporaryDirectory("prov-ms")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("tone-0123456789ab", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let contents: [String: Data] = [
            "adapter_config.json": Data(#"{"peft_type": "LORA", "r": 8}"#.utf8),
            "adapter_model.safetensors": Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }),
            "quiver.json": Data("{}\n".utf8),
        ]
        for (name, data) in contents { try data.write(to: directory.appendingPathComponent(name)) }
        let key = SigningKey.generate()
        let bundle = try ModelSigningBundle.sign(
            modelName: directory.lastPathComponent, files: contents.map { .init(name: $0.key, sha256: SHA256Digest.of($0.value)) }, with: key)
        try bundle.write(to: directory.appendingPathComponent("model.sig"))
        let publicKey = root.appendingPathComponent("pub.pem")
        try Data(key.publicKey.pem.utf8).write(to: publicKey)

        let accepted = try ModelSigningTool.verify(directory: directory, publicKey: publicKey)
        #expect(accepted.status == 0, "\(accepted.stdout)\n\(accepted.stderr)")

        var weights = contents["adapter_model.safetensors"]!
        weights[5000] ^= 0x01
        try weights.write(to: directory.appendingPathComponent("adapter_model.safetensors"))
        let refused = try ModelSigningTool.verify(directory: directory, publicKey: publicKey)
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("adapter_model.safetensors"), "the mismatch names the file: \(refused.stdout) \(refused.stderr)")
    }
}
