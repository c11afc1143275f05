import ArgumentParser
import Foundation
import ObjectStore
import QuiverCore

/// `quiver blob …`: direct access to the content-addressed blob store (debugging, benchmarks, scripts).
public struct BlobCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "blob",
        abstract: "Store and fetch content-addressed blobs (sha256/<hex>) in the blob store.",
        subcommands: [Put.self, Get.self, Head.self, List.self, Delete.self, MakeBucket.self]
    )

    public init() {}

    /// Where the blobs live, shared by every subcommand.
    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "Blob store: s3://bucket/prefix (AWS_* variables give endpoint and keys), file:///dir or a directory. Default: $QUIVER_BLOB_STORE.")
        var store: String?

        @Option(name: .customLong("multipart-threshold-mib"), help: "S3 only: files larger than this many MiB are uploaded in parts.")
        var multipartThresholdMiB: Int = 64

        @Option(name: .customLong("part-size-mib"), help: "S3 only: multipart part size in MiB (at least 5).")
        var partSizeMiB: Int = 16

        @Option(name: .long, help: "S3 only: parts uploaded, or ranges downloaded, at once.")
        var concurrency: Int = 4

        func open() throws -> any BlobStore {
            guard let url = store ?? ProcessInfo.processInfo.environment["QUIVER_BLOB_STORE"], !url.isEmpty else {
                throw ValidationError("no blob store: pass --store s3://bucket/prefix or a directory, or set QUIVER_BLOB_STORE")
            }
            guard url.hasPrefix("s3://") else { return try BlobStores.open(url: url) }
            var settings = try S3Settings.fromEnvironment(url: url)
            settings.multipartThreshold = Int64(multipartThresholdMiB) << 20
            settings.partSize = Int64(max(5, partSizeMiB)) << 20
            settings.uploadConcurrency = max(1, concurrency)
            settings.downloadConcurrency = max(1, concurrency)
            return S3BlobStore(settings: settings)
        }
    }

    /// One line of machine-readable output for a transfer: what moved, how fast (MB = 10^6 bytes) and this process's
    /// peak resident memory so far.
    static func report(_ action: String, digest: SHA256Digest, size: Int64, seconds: Double, skipped: Bool = false) -> String {
        let rate = seconds > 0 ? Double(size) / 1e6 / seconds : 0
        let peak = PeakMemory.residentBytes().map { " peakRSSMiB=\($0 >> 20)" } ?? ""
        return "\(action) sha256/\(digest.hex) size=\(size) seconds=\(String(format: "%.3f", seconds)) MBps=\(String(format: "%.1f", rate))"
            + peak + (skipped ? " already-present" : "")
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a file under its sha256; prints the digest.")

        @OptionGroup var options: StoreOptions
        @Argument(help: "The file to store.") var file: String
        @Option(help: "The file's sha256 when already known (skips the hashing pass).") var digest: String?

        func run() async throws {
            try await reportingErrors {
                let known = try digest.map { text in
                    guard let parsed = SHA256Digest(hex: text) else { throw ValidationError("--digest must be 64 hex characters") }
                    return parsed
                }
                let store = try options.open()
                let start = Date()
                let result = try await store.put(fileAt: URL(fileURLWithPath: file), digest: known)
                print(BlobCommand.report("put", digest: result.digest, size: result.size,
                                         seconds: -start.timeIntervalSinceNow, skipped: result.alreadyPresent))
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fetch a blob into a file, verifying its sha256.")

        @OptionGroup var options: StoreOptions
        @Argument(help: "The blob's sha256 (64 hex characters, optionally prefixed sha256/).") var digest: String
        @Argument(help: "Where to write it.") var output: String

        func run() async throws {
            try await reportingErrors {
                let store = try options.open()
                let parsed = try BlobCommand.parse(digest)
                let start = Date()
                let size = try await store.get(digest: parsed, to: URL(fileURLWithPath: output))
                print(BlobCommand.report("get", digest: parsed, size: size, seconds: -start.timeIntervalSinceNow))
            }
        }
    }

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a blob's size and modification time; exit 1 if absent.")

        @OptionGroup var options: StoreOptions
        @Argument(help: "The blob's sha256.") var digest: String

        func run() async throws {
            try await reportingErrors {
                let store = try options.open()
                let parsed = try BlobCommand.parse(digest)
                guard let info = try await store.head(digest: parsed) else {
                    print("absent sha256/\(parsed.hex)")
                    throw ExitCode(1)
                }
                print("present sha256/\(parsed.hex) size=\(info.size) modified=\(ISO8601DateFormatter().string(from: info.lastModified))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List blobs, optionally by hex prefix.")

        @OptionGroup var options: StoreOptions
        @Argument(help: "Hex digest prefix.") var prefix: String = ""

        func run() async throws {
            try await reportingErrors {
                let store = try options.open()
                let formatter = ISO8601DateFormatter()
                for blob in try await store.list(hexPrefix: prefix) {
                    print("sha256/\(blob.digest.hex) \(blob.size) \(formatter.string(from: blob.lastModified))")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a blob (no error when absent).")

        @OptionGroup var options: StoreOptions
        @Argument(help: "The blob's sha256.") var digest: String

        func run() async throws {
            try await reportingErrors {
                try await options.open().delete(digest: try BlobCommand.parse(digest))
            }
        }
    }

    struct MakeBucket: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mb", abstract: "Create the store's S3 bucket if it does not exist (a local store needs nothing).")

        @OptionGroup var options: StoreOptions

        func run() async throws {
            try await reportingErrors {
                let store = try options.open()
                if let s3 = store as? S3BlobStore {
                    try await BlockingExecutor.shared.run { try s3.createBucketIfMissing() }
                }
                print("ready \(store.location)")
            }
        }
    }

    static func parse(_ text: String) throws -> SHA256Digest {
        let hex = text.hasPrefix(BlobKey.folder) ? String(text.dropFirst(BlobKey.folder.count)) : text
        guard let digest = SHA256Digest(hex: hex) else {
            throw ValidationError("\(text) is not a sha256 digest (64 hex characters)")
        }
        return digest
    }
}
