import ArgumentParser
import Catalog
import Foundation
import QuiverCore
import Registry

/// The options every registry command shares: where the catalog and the blobs are, and who is acting.
public struct RegistryOptions: ParsableArguments {
    @Option(name: .long, help: "PostgreSQL URL (default: QUIVER_DATABASE_URL, DATABASE_URL, else the embedded server under QUIVER_HOME).")
    var databaseURL: String?

    @Option(name: .long, help: "Blob store: s3://bucket/prefix (AWS_* settings) or a directory (default: QUIVER_BLOB_STORE, else $QUIVER_HOME/blobs).")
    var blobStore: String?

    @Option(name: .long, help: "Who is acting, recorded in the catalog (default: QUIVER_ACTOR, else the OS user).")
    var actor: String?

    public init() {}

    /// Opens the registry, starting the embedded database and migrating the catalog when needed.
    func open() throws -> Registry {
        let url = try DatabaseLocation.resolve(explicit: databaseURL)
        return try Registry.open(
            databaseURL: url, blobStoreURL: Registry.resolveBlobStore(explicit: blobStore),
            actor: Registry.resolveActor(explicit: actor))
    }
}

/// Runs a command body, printing named errors as `error: …` on stderr and exiting with status 2.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as any NamedError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(2)
    }
}

/// The async form of ``reportingErrors(_:)``, for the blob commands.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as any NamedError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(2)
    }
}

/// Pretty, key-sorted JSON with ISO 8601 dates, for `--json` output.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Parses repeated `key=value` options.
func parseTags(_ items: [String]) throws -> [String: String] {
    var tags: [String: String] = [:]
    for item in items {
        guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
            throw ValidationError("a tag is key=value, got '\(item)'")
        }
        tags[String(item[..<equals])] = String(item[item.index(after: equals)...])
    }
    return tags
}

extension AdapterVersion {
    /// One line for listings.
    var summaryLine: String {
        let base = baseModel.isEmpty ? "?" : baseModel
        let tagText = tags.isEmpty ? "" : "  " + tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(label)  \(kind)  r=\(rank) alpha=\(formatNumber(loraAlpha))  base=\(base)  modules=\(targetModules.joined(separator: ","))  sha256:\(canonicalDigest.hex.prefix(12))\(tagText)"
    }
}

func formatNumber(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}
