import Foundation
@testable import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// Reads a file through `read(2)`, as a request body arrives through a socket.
final class FileSource: ByteSource, @unchecked Sendable {
    // @unchecked: a store reads from one thread at a time (the protocol's contract).
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw CocoaError(.fileReadUnknown) }
            return n
        }
    }
}

/// The memory bound of a large streamed put, measured in a child process (this test bundle run again with only
/// the child test enabled) so that tests running alongside in this process cannot blur its peak RSS.
@Suite("Streamed put memory bound")
struct StreamMemoryTests {
    static let childVariable = "QUIVER_STREAM_MEMORY_CHILD"

    /// The numbers a child prints on one line: `name=value` pairs.
    static func numbers(_ output: String) -> [String: Double] {
        var found: [String: Double] = [:]
        for word in output.split(whereSeparator: \.isWhitespace) {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { found[String(parts[0])] = value }
        }
        return found
    }

    @Test("a 200 MiB streamed multipart put and a streamed get keep the peak RSS near concurrency × part size")
    func boundedInChild() throws {
        let server = try TestS3.require()
        let child = try ChildProcess.start(
            CommandLine.arguments[0], ["--testing-library", "swift-testing", "--filter", "StreamMemoryTests/child"],
            environment: [Self.childVariable: "1", "QUIVER_TEST_S3_ENDPOINT": server.endpoint,
                          "QUIVER_TEST_S3_BUCKET": server.bucket, "QUIVER_TEST_S3_ACCESS_KEY": server.accessKey,
                          "QUIVER_TEST_S3_SECRET_KEY": server.secretKey, "QUIVER_TEST_S3_REGION": server.region])
        let outcome = child.wait()
        #expect(outcome.status == 0, "\(outcome.stdout.suffix(3000)) \(outcome.stderr.suffix(2000))")
        let line = try #require(outcome.stdout.split(separator: "\n").first { $0.contains("streamedPeakRSSMiB=") },
                                "no result line in: \(outcome.stdout.suffix(3000))")
        let numbers = Self.numbers(String(line))
        let baseline = try #require(numbers["baselineRSSMiB"])
        let peak = try #require(numbers["streamedPeakRSSMiB"])
        // Four workers × 8 MiB part buffers = 32 MiB, plus curl's buffers and the allocator's slack.
        #expect(peak - baseline < 72, "streamed put/get of 200 MiB grew the peak RSS from \(baseline) to \(peak) MiB")
        print(line)
    }

    @Test("child: streams 200 MiB up and down, prints its peak RSS and throughput",
          .enabled(if: ProcessInfo.processInfo.environment[childVariable] == "1"))
    func child() throws {
        let server = try TestS3.require()
        var settings = try Stores.s3Settings(server, prefix: "mem-\(UUID().uuidString.prefix(8).lowercased())")
        settings.multipartThreshold = 32 << 20
        settings.partSize = 8 << 20
        settings.uploadConcurrency = 4
        let store = S3BlobStore(settings: settings)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("big.bin")
        var generator = ByteGenerator(seed: 2026)
        let size = 200 << 20
        let digest = try generator.writeFile(at: file, size: size)
        let baseline = Double(PeakMemory.residentBytes() ?? 0) / 1_048_576

        let streamStart = Date()
        let put = try store.put(from: FileSource(path: file.path), size: Int64(size), digest: digest)
        let streamSeconds = -streamStart.timeIntervalSinceNow
        #expect(put.alreadyPresent == false)
        let getStart = Date()
        final class Hashing: @unchecked Sendable {
            var hasher = SHA256Hasher()
        }
        let received = Hashing()
        #expect(try store.get(digest: digest, range: nil) { received.hasher.update($0) } == Int64(size))
        let getSeconds = -getStart.timeIntervalSinceNow
        #expect(received.hasher.finalize() == digest)
        let peak = Double(PeakMemory.residentBytes() ?? 0) / 1_048_576
        try store.delete(digest: digest)

        // The same file through put(fileAt:) with the digest known, for the throughput comparison.
        let fileStart = Date()
        #expect(try store.put(fileAt: file, digest: digest).alreadyPresent == false)
        let fileSeconds = -fileStart.timeIntervalSinceNow
        try store.delete(digest: digest)

        let mib = Double(size) / 1_048_576
        print(String(format: "baselineRSSMiB=%.0f streamedPeakRSSMiB=%.0f streamPutMiBps=%.0f streamGetMiBps=%.0f filePutMiBps=%.0f",
                     baseline, peak, mib / streamSeconds, mib / getSeconds, mib / fileSeconds))
    }
}
