import ArgumentParser
import Foundation
import Provenance
import QuiverCore
import Registry

/// `quiver attest REF [--output FILE]` and `quiver attest --verify FILE [--dir DIR] [--public-key PEM]`.
public struct AttestCommand: ParsableCommand, JSONOutputCommand {
    public static let configuration = CommandConfiguration(
        commandName: "attest",
        abstract: "Write a version's signed provenance (DSSE + in-toto; SLSA v1 for merges), or verify one (--verify), re-hashing files with --dir.",
        discussion: """
            A failed verification (a signature that does not verify, a subject file whose sha256 differs, a damaged \
            attestation) exits 1. Without --public-key the registry's own key is used (QUIVER_SIGNING_KEY or the \
            generated default; with --server, the server's).
            """)

    @OptionGroup var options: RegistryOptions
    @Option(help: "Write the attestation to this file (default: standard output).") var output: String?
    @Option(help: "Verify this attestation file (a DSSE envelope, JSON or one JSON line) instead.") var verify: String?
    @Option(help: "With --verify: re-hash every subject file in this directory.") var dir: String?
    @Option(help: "With --verify: the PEM public key to check the signature with.") var publicKey: String?
    @Flag(help: "Print JSON (with --verify: the check).") var json = false
    @Argument(help: "The reference (not with --verify).") var ref: String?

    public init() {}

    public func validate() throws {
        if verify != nil {
            guard ref == nil, output == nil else { throw ValidationError("--verify takes no reference and no --output") }
        } else {
            guard let ref else { throw ValidationError("name a reference, or --verify FILE") }
            guard dir == nil, publicKey == nil else { throw ValidationError("--dir and --public-key go with --verify") }
            _ = try AdapterRef.parse(ref)
        }
    }

    public func run() throws {
        if let verify { return try runVerify(verify) }
        guard let ref else { return }
        let envelope = try options.service().attestation(of: try AdapterRef.parse(ref))
        let line = try envelope.jsonLine()
        if let output {
            try AtomicFileWrite.write(line, to: URL(fileURLWithPath: output))
            print("wrote the attestation of \(ref) to \(output)")
        } else if json {
            try printJSON(envelope)
        } else {
            FileHandle.standardOutput.write(line)
        }
    }

    private func runVerify(_ file: String) throws {
        let envelope = try DSSEEnvelope.parse(try RegularFile.read(file, limit: 16 << 20), what: file)
        let key = try PublicKey(pem: try publicKey.map { String(decoding: try RegularFile.read($0, limit: 64 << 10), as: UTF8.self) } ?? options.publicKeyPEM(generate: false))
        let check = try AttestationVerifier.verify(envelope, key: key, directory: dir.map { URL(fileURLWithPath: $0, isDirectory: true) })
        if json { return try printJSON(check) }
        for line in Self.lines(check) { print(line) }
        print("verified \(file): \(check.predicateType) over \(check.subjects.count) file(s)\(dir.map { ", re-hashed in \($0)" } ?? "")")
    }

    /// One line for the signature and one per subject.
    static func lines(_ check: AttestationCheck, showKey: Bool = true) -> [String] {
        ["ok   signature: ECDSA P-256\(showKey ? ", key sha256:\(check.keyID.prefix(16))…" : "")"]
            + check.subjects.map { "ok   \($0.name) sha256:\($0.sha256)\($0.rehashed == true ? " (re-hashed)" : "")" }
    }
}

/// A small file written whole: to a temporary sibling, then renamed over the destination.
enum AtomicFileWrite {
    static func write(_ data: Data, to url: URL) throws {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw OptionError("output_unwritable", "cannot write \(url.path): \(error.localizedDescription)", hint: "check the path and its directory's permissions")
        }
    }
}
