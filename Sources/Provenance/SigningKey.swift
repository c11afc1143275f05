import Crypto
import Foundation
import QuiverCore

#if canImport(Glibc)
import Glibc
#endif

/// The registry's ECDSA P-256 signing key (swift-crypto). P-256 because OpenSSF model signing 1.1 accepts P-256,
/// P-384 and P-521 keys and refuses Ed25519; signatures are SHA-256 ECDSA, DER-encoded, as DSSE and Sigstore
/// bundles carry them.
///
/// The key's file is configuration (`QUIVER_SIGNING_KEY`); neither its path nor its content is ever put in an error
/// message or a log line.
public struct SigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// swift-crypto's key types are not `Sendable` (`Data` is), so the key is kept as its PKCS#8 PEM and its public
    /// half, both made once, and rebuilt from the PEM only to sign. Internal: only the key file is written from it.
    let pem: String
    public let publicKey: PublicKey

    /// Never the key: printing or logging a `SigningKey` shows only its public id.
    public var description: String { "SigningKey(ECDSA P-256, public key sha256:\(publicKey.keyID))" }
    public var debugDescription: String { description }

    init(privateKey: P256.Signing.PrivateKey) {
        pem = privateKey.pemRepresentation
        publicKey = PublicKey(key: privateKey.publicKey)
    }

    /// A fresh random key.
    public static func generate() -> SigningKey { SigningKey(privateKey: P256.Signing.PrivateKey()) }

    /// A key from PEM text: PKCS#8 (`BEGIN PRIVATE KEY`) or SEC 1 (`BEGIN EC PRIVATE KEY`, as `openssl ecparam
    /// -genkey` writes it).
    public init(pem: String) throws {
        do {
            self.init(privateKey: try P256.Signing.PrivateKey(pemRepresentation: pem))
        } catch {
            throw ProvenanceError(
                .invalidInput, code: "bad_signing_key", reason: "the signing key (QUIVER_SIGNING_KEY) is not a PEM ECDSA P-256 private key",
                hint: "make one with 'openssl ecparam -name prime256v1 -genkey -noout -out KEY.pem', or unset QUIVER_SIGNING_KEY to use the generated default")
        }
    }

    /// A DER-encoded ECDSA signature (SHA-256) of `message`.
    public func sign(_ message: Data) throws -> Data {
        try P256.Signing.PrivateKey(pemRepresentation: pem).signature(for: message).derRepresentation
    }
}

/// A P-256 public key: what verifies attestations and `model.sig`.
public struct PublicKey: Sendable, Equatable {
    /// SubjectPublicKeyInfo DER, kept as bytes for `Sendable` (see ``SigningKey``).
    private let der: Data

    init(key: P256.Signing.PublicKey) {
        der = key.derRepresentation
    }

    /// A key from `BEGIN PUBLIC KEY` PEM text (SubjectPublicKeyInfo), as `quiver key public` prints it.
    public init(pem: String) throws {
        do {
            self.init(key: try P256.Signing.PublicKey(pemRepresentation: pem))
        } catch {
            throw ProvenanceError(
                .invalidInput, code: "bad_public_key", reason: "the public key is not a PEM ECDSA P-256 public key",
                hint: "pass the PEM 'quiver key public' prints (BEGIN PUBLIC KEY)")
        }
    }

    /// SubjectPublicKeyInfo PEM exactly as OpenSSL and Python's `cryptography` write it: 64-character base64 lines
    /// and a final newline. Its sha256 is the key's id (``keyID``), so the text must be byte-exact.
    public var pem: String {
        let base64 = der.base64EncodedString()
        var lines: [Substring] = []
        var rest = Substring(base64)
        while !rest.isEmpty {
            lines.append(rest.prefix(64))
            rest = rest.dropFirst(64)
        }
        return "-----BEGIN PUBLIC KEY-----\n" + lines.joined(separator: "\n") + "\n-----END PUBLIC KEY-----\n"
    }

    /// sha256 (hex) of ``pem``: the DSSE `keyid`, and the `verificationMaterial.publicKey.hint` that model_signing
    /// compares with the sha256 of the PEM it is given.
    public var keyID: String { SHA256Digest.of(Data(pem.utf8)).hex }

    /// Whether `signature` (DER) is a valid ECDSA P-256/SHA-256 signature of `message`.
    public func isValid(signature der: Data, for message: Data) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: der),
              let key = try? P256.Signing.PublicKey(derRepresentation: self.der)
        else { return false }
        return key.isValidSignature(signature, for: message)
    }
}

/// Where the signing key lives and whether it may be created: the configured file (`QUIVER_SIGNING_KEY`, which must
/// exist), or the embedded default under the Quiver home, generated on first use with permissions 0600.
public struct SigningKeyLocation: Sendable, Equatable {
    public let path: URL
    /// True for the generated default; a configured key that is missing is an error, never replaced by a new one
    /// (signatures by an unknown key would follow silently).
    public let createIfMissing: Bool

    public init(path: URL, createIfMissing: Bool) {
        self.path = path
        self.createIfMissing = createIfMissing
    }

    /// `QUIVER_SIGNING_KEY` when set, else `keys/signing-key.pem` under `home`, created when missing.
    public static func resolve(environment: [String: String], home: URL) -> SigningKeyLocation {
        if let configured = environment["QUIVER_SIGNING_KEY"], !configured.isEmpty {
            return SigningKeyLocation(path: URL(fileURLWithPath: configured), createIfMissing: false)
        }
        return SigningKeyLocation(
            path: home.appendingPathComponent("keys", isDirectory: true).appendingPathComponent("signing-key.pem"), createIfMissing: true)
    }

    /// Loads the key, generating the default one first when it is missing (unless `create` is false: a verifier
    /// has nothing to verify with a key made just now).
    public func load(create: Bool = true) throws -> SigningKey {
        if !FileManager.default.fileExists(atPath: path.path) {
            if createIfMissing, !create {
                throw ProvenanceError(
                    .invalidInput, code: "signing_key_missing", reason: "this registry has no signing key yet (nothing was signed with it)",
                    hint: "pass the key that signed it (--public-key KEY.pem, from 'quiver key public' where it was signed)")
            }
            guard createIfMissing else {
                throw ProvenanceError(
                    .invalidInput, code: "signing_key_missing", reason: "the signing key file QUIVER_SIGNING_KEY names does not exist",
                    hint: "point QUIVER_SIGNING_KEY at an existing PEM ECDSA P-256 private key, or unset it to use the generated default")
            }
            try writeNewKey()
        }
        let data: Data
        do {
            data = try RegularFile.read(path.path, limit: 64 << 10)
        } catch {
            throw ProvenanceError(
                .invalidInput, code: "signing_key_unreadable",
                reason: "the signing key file cannot be read (\(error.reasonKind.rawValue))",
                hint: "check the file QUIVER_SIGNING_KEY names (or the generated default under QUIVER_HOME/keys) and its permissions")
        }
        return try SigningKey(pem: String(decoding: data, as: UTF8.self))
    }

    /// Writes a new key: a 0600 temporary file in a 0700 directory, then `link(2)` into place, so two processes
    /// creating it at once end with one key (the loser reads the winner's).
    private func writeNewKey() throws {
        let directory = path.deletingLastPathComponent()
        let failure = ProvenanceError(
            .unavailable, code: "signing_key_create_failed", reason: "the default signing key could not be created under QUIVER_HOME/keys",
            hint: "check that QUIVER_HOME is writable, or set QUIVER_SIGNING_KEY to an existing key")
        do {
            // QUIVER_HOME first, with the default mode: created with the keys' 0700 (which Foundation gives every
            // intermediate directory it makes), it would be closed to the embedded PostgreSQL's server user.
            try FileManager.default.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw failure
        }
        let temporary = directory.appendingPathComponent(ScratchSpace.temporarySiblingName(of: path.lastPathComponent))
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure }
        defer { unlink(temporary.path) }
        let bytes = Array(SigningKey.generate().pem.utf8) + [0x0A]
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced else { throw failure }
        if link(temporary.path, path.path) != 0, errno != EEXIST { throw failure }
    }
}
