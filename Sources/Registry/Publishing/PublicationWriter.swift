import Foundation
import LoRA
import ObjectStore
import Provenance
import QuiverCore

/// Where `publish --to` writes: a local directory, or an S3 prefix (credentials and endpoint from the `AWS_*`
/// settings, as for the blob store).
public enum PublishTarget: Sendable, Equatable, CustomStringConvertible {
    case directory(URL)
    case s3(String)

    /// `s3://bucket/prefix`, or a directory path.
    public static func parse(_ text: String) throws -> PublishTarget {
        if text.hasPrefix("s3://") {
            _ = try S3Settings.parse(url: text)
            return .s3(text.hasSuffix("/") ? String(text.dropLast()) : text)
        }
        guard !text.isEmpty, !text.contains("://") else {
            throw RegistryError(.invalidInput, code: "publish.invalid_target", reason: "'\(text.prefix(200))' is neither a directory nor s3://bucket/prefix",
                                hint: "write --to DIR or --to s3://bucket/prefix")
        }
        return .directory(URL(fileURLWithPath: text, isDirectory: true))
    }

    public var description: String {
        switch self {
        case .directory(let url): url.path
        case .s3(let url): url
        }
    }

    /// Where the publication named `directoryName` lives under this target.
    public func location(of directoryName: String) -> String {
        switch self {
        case .directory(let url): url.appendingPathComponent(directoryName, isDirectory: true).path
        case .s3(let url): "\(url)/\(directoryName)"
        }
    }
}

/// What `publish` did.
public struct PublishOutcome: Sendable, Codable, Equatable {
    public let reference: String
    public let directoryName: String
    /// The published directory (a path, or `s3://bucket/prefix/NAME-…`).
    public let location: String
    /// True when the same content was already published there (nothing was written).
    public let alreadyPublished: Bool
    public let manifest: PublicationManifest
}

/// Writes a ``Publication`` under a target, whole or not at all, and never over a different content:
///
/// - a directory: every file into a hidden temporary sibling, the weights fetched and verified there, then one
///   rename into place (``AtomicDirectory``);
/// - S3: the objects under `prefix/NAME-…/`, the weights first and `quiver.json` last, so a reader that sees
///   `quiver.json` sees a complete directory (S3 has no rename). Objects left by an interrupted publish, without
///   `quiver.json`, are not a publication and are overwritten.
///
/// When the name is taken, its `quiver.json` decides: the same version content (canonical digest and adapter files,
/// the files on disk re-hashed) is an idempotent success; anything else is `publish.conflict` and nothing is written.
public enum PublicationWriter {
    /// - Parameters:
    ///   - fetchWeights: writes the version's weights, verified against their digest, to the file URL it is given.
    ///   - environment: the `AWS_*` settings for an S3 target.
    public static func write(_ publication: Publication, to target: PublishTarget, environment: [String: String],
                             fetchWeights: (URL) throws -> Void) throws -> PublishOutcome {
        try validate(publication)
        let manifest = try publication.manifest()
        let location = target.location(of: publication.directoryName)
        func outcome(_ existed: Bool) -> PublishOutcome {
            PublishOutcome(reference: publication.version.label, directoryName: publication.directoryName, location: location,
                           alreadyPublished: existed, manifest: manifest)
        }
        switch target {
        case .directory(let parent):
            let destination = parent.appendingPathComponent(publication.directoryName, isDirectory: true)
            if FileManager.default.fileExists(atPath: destination.path) {
                try requireSameContent(existingDirectory: destination, as: manifest, location: location)
                return outcome(true)
            }
            do {
                try AtomicDirectory.write(to: destination) { temporary in
                    for file in publication.files {
                        let url = temporary.appendingPathComponent(file.name)
                        if let content = file.content {
                            do {
                                try content.write(to: url)
                            } catch {
                                throw RegistryError(.unavailable, code: "publish.write_failed", reason: "cannot write \(file.name) under \(parent.path): \(error.localizedDescription)",
                                                    hint: "check the directory's permissions and free space")
                            }
                        } else {
                            try fetchWeights(url)
                        }
                    }
                }
            } catch let error as DirectoryWriteError where error.errorKind == .conflict {
                // Another publisher renamed first: fine when it wrote the same content.
                try requireSameContent(existingDirectory: destination, as: manifest, location: location)
                return outcome(true)
            }
            return outcome(false)
        case .s3(let url):
            let client = S3Client(settings: try S3Settings.fromEnvironment(url: "\(url)/\(publication.directoryName)", environment: environment))
            if try client.headObject(key: Publication.manifestFileName) != nil {
                let existing = try PublicationManifest.decode(try client.getObjectData(key: Publication.manifestFileName), what: "\(location)/\(Publication.manifestFileName)")
                guard existing.sameContent(as: manifest) else { throw conflict(location, existing: existing) }
                for entry in existing.files {
                    guard let head = try client.headObject(key: entry.name), head.size == entry.size else {
                        throw conflict(location, existing: existing, detail: "\(entry.name) is missing or has another size")
                    }
                }
                return outcome(true)
            }
            let scratch = try ScratchSpace.create("publish")
            defer { try? FileManager.default.removeItem(at: scratch) }
            for file in publication.files {
                if let content = file.content {
                    try client.putObject(key: file.name, data: content)
                } else {
                    let local = scratch.appendingPathComponent(file.name)
                    try fetchWeights(local)
                    try client.putFile(key: file.name, at: local, size: file.size, sha256: file.sha256)
                }
            }
            return outcome(false)
        }
    }

    /// A publication that came over the network is checked before anything is written from it: the directory's
    /// name is the one its version gives (a name is one safe path component), the files are exactly the five a
    /// published directory holds, and every file given with its bytes hashes to its digest.
    static func validate(_ publication: Publication) throws {
        let expectedNames: Set<String> = [LoRAAdapter.weightsFileName, LoRAAdapter.configFileName, Publication.provenanceFileName,
                                          ModelSigningBundle.fileName, Publication.manifestFileName]
        func invalid(_ why: String) -> RegistryError {
            RegistryError(.integrity, code: "publish.invalid_publication", reason: "the publication of \(publication.version.label) is not one Quiver writes: \(why)",
                          hint: "check that the server runs the same quiver version as this client")
        }
        try AdapterRef.validateName(publication.version.name)
        guard publication.directoryName == Publication.directoryName(for: publication.version) else { throw invalid("its directory name") }
        guard Set(publication.files.map(\.name)) == expectedNames, publication.files.count == expectedNames.count,
              publication.files.last?.name == Publication.manifestFileName
        else { throw invalid("its files") }
        for file in publication.files {
            if let content = file.content {
                guard SHA256Digest.of(content) == file.sha256, Int64(content.count) == file.size else { throw invalid("\(file.name) does not hash to its digest") }
            } else {
                guard file.name == LoRAAdapter.weightsFileName, file.sha256 == publication.version.weightsDigest else { throw invalid("\(file.name) has no content") }
            }
        }
    }

    /// Accepts an existing directory only when its `quiver.json` names the same content and its adapter files
    /// still hash to it.
    static func requireSameContent(existingDirectory: URL, as manifest: PublicationManifest, location: String) throws {
        let manifestURL = existingDirectory.appendingPathComponent(Publication.manifestFileName)
        guard let data = try? RegularFile.read(manifestURL.path, limit: 1 << 20) else {
            throw RegistryError(.conflict, code: "publish.conflict", reason: "\(location) exists and is not a Quiver publication (no \(Publication.manifestFileName))",
                                hint: "publish into another --to location; Quiver never overwrites what it did not write")
        }
        let existing = try PublicationManifest.decode(data, what: manifestURL.path)
        guard existing.sameContent(as: manifest) else { throw conflict(location, existing: existing) }
        for entry in existing.files {
            let actual = try? SHA256Digest.ofFile(at: existingDirectory.appendingPathComponent(entry.name))
            guard actual?.hex == entry.sha256 else {
                throw conflict(location, existing: existing, detail: "\(entry.name) no longer hashes to sha256:\(entry.sha256)")
            }
        }
    }

    static func conflict(_ location: String, existing: PublicationManifest, detail: String? = nil) -> RegistryError {
        let what = detail ?? "it holds \(existing.reference) with other content (canonical sha256:\(existing.canonicalDigest.prefix(12))…, base model \(existing.baseModel ?? "?"))"
        return RegistryError(.conflict, code: "publish.conflict", reason: "\(location) is already published and differs: \(what)",
                             hint: "publish into another --to location (a different --base-model is different content); Quiver never overwrites a published directory")
    }
}
