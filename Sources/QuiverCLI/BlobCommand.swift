import ArgumentParser
import Foundation
import ObjectStore
import QuiverCore

/// `quiver blob …`: direct access to the content-addressed blob store (debugging, benchmarks, scripts).
///
/// Every subcommand runs on the calling thread with the store's blocking API.
public struct BlobCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "blob",
        abstract: "Store and fetch content-addressed blobs (sha256/<hex>) in the blob store.",
        subcommands: [Put.self, Get.self, Head.self, List.self, Delete.self, MakeBucket.self]
    )

    public init() {}

    /// One line of machine-readable output for a transfer: what moved, how fast (MB = 10^6 bytes) and this process's
    /// peak resident memory so far.
    static func report(_ action: String, digest: SHA256Digest, size: Int64, seconds: Double, skipped: Bool = false) -> String {
        let rate = seconds > 0 ? Double(size) / 1e6 / seconds : 0
        let peak = PeakMemory.residentBytes().map { " peakRSSMiB=\($0 >> 20)" } ?? ""
        return "\(action) sha256/\(digest.hex) size=\(size) seconds=\(NumberFormat.fixed(seconds, 3)) MBps=\(NumberFormat.fixed(rate, 1))"
            + peak + (skipped ? " already-present" : "")
    }

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "put", abstract: "Store a file under its sha256; prints the digest.")

        @OptionGroup var options: BlobStoreOptions
        @Argument(help: "The file to store.") var file: String
        @Option(help: "The file's sha256 when already known (skips the hashing pass).") var digest: String?
        @Flag(help: "Upload even when a blob of that size is stored: heals a copy corrupted in place (the file is hashed and must match).")
        var replace = false

        func validate() throws {
            if let digest { _ = try OptionParsing.digest(digest) }
        }

        func run() throws {
            let known = try digest.map(OptionParsing.digest)
            let store = try options.open()
            let start = Date()
            let url = URL(fileURLWithPath: file)
            let result = replace
                ? try store.replace(fileAt: url, digest: try known ?? SHA256Digest.ofFile(at: url))
                : try store.put(fileAt: url, digest: known)
            print(BlobCommand.report("put", digest: result.digest, size: result.size,
                                     seconds: -start.timeIntervalSinceNow, skipped: result.alreadyPresent))
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Fetch a blob into a file, verifying its sha256.")

        @OptionGroup var options: BlobStoreOptions
        @Argument(help: "The blob's sha256 (64 hex characters, optionally prefixed sha256/).") var digest: String
        @Argument(help: "Where to write it.") var output: String

        func validate() throws {
            _ = try OptionParsing.digest(digest)
        }

        func run() throws {
            let parsed = try OptionParsing.digest(digest)
            let store = try options.open()
            let start = Date()
            let size = try store.get(digest: parsed, to: URL(fileURLWithPath: output))
            print(BlobCommand.report("get", digest: parsed, size: size, seconds: -start.timeIntervalSinceNow))
        }
    }

    struct Head: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "head", abstract: "Show a blob's size and modification time; exit 3 (not found) if absent.")

        @OptionGroup var options: BlobStoreOptions
        @Argument(help: "The blob's sha256.") var digest: String

        func validate() throws {
            _ = try OptionParsing.digest(digest)
        }

        func run() throws {
            let parsed = try OptionParsing.digest(digest)
            guard let info = try options.open().head(digest: parsed) else {
                print("absent sha256/\(parsed.hex)")
                throw ExitStatus.notFound.exitCode
            }
            print("present sha256/\(parsed.hex) size=\(info.size) modified=\(info.lastModified.ISO8601Format())")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List blobs, optionally by hex prefix.")

        @OptionGroup var options: BlobStoreOptions
        @Argument(help: "Hex digest prefix.") var prefix: String = ""

        func validate() throws {
            _ = try OptionParsing.hexPrefix(prefix)
        }

        func run() throws {
            for blob in try options.open().list(hexPrefix: try OptionParsing.hexPrefix(prefix)) {
                print("sha256/\(blob.digest.hex) \(blob.size) \(blob.lastModified.ISO8601Format())")
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a blob (no error when absent).")

        @OptionGroup var options: BlobStoreOptions
        @Argument(help: "The blob's sha256.") var digest: String

        func validate() throws {
            _ = try OptionParsing.digest(digest)
        }

        func run() throws {
            try options.open().delete(digest: try OptionParsing.digest(digest))
        }
    }

    struct MakeBucket: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mb", abstract: "Create the store's S3 bucket if it does not exist (a local store needs nothing).")

        @OptionGroup var options: BlobStoreOptions

        func run() throws {
            let store = try options.open()
            if let s3 = store as? S3BlobStore { try s3.createBucketIfMissing() }
            print("ready \(store.location)")
        }
    }
}
