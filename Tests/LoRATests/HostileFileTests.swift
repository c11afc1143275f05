import Foundation
import LoRA
import QuiverCore
import QuiverTesting
import SafeTensors
import Testing

/// Adapter directories whose files are not what they claim: a FIFO or a device in place of a file must be refused
/// at once (never block in `open` or `read`), and an oversized config must not be read whole.
@Suite("LoRA: hostile files", .serialized)
struct HostileFileTests {
    /// A copy of golden adapter a1 with `file` replaced by `make(path)`.
    static func directory(replacing file: String, _ make: (String) throws -> Void) throws -> URL {
        let directory = try Fixtures.temporaryDirectory("hostile")
        let source = adapterURL("a1")
        for name in [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        let target = directory.appendingPathComponent(file).path
        try FileManager.default.removeItem(atPath: target)
        try make(target)
        return directory
    }

    /// Runs `body` on a thread and fails if it has not returned within `seconds`; a FIFO the body might block on is
    /// opened for writing afterwards so a regression cannot hang the test run.
    static func bounded<T: Sendable>(_ seconds: Double, fifo: String?, _ body: @escaping @Sendable () throws -> T) -> Result<T, any Error>? {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Thread.detachNewThread {
            box.set(Result { try body() })
            done.signal()
        }
        if done.wait(timeout: .now() + seconds) == .timedOut {
            if let fifo {
                let writer = open(fifo, O_WRONLY | O_NONBLOCK)
                if writer >= 0 { close(writer) }
            }
            return nil
        }
        return box.get()
    }

    @Test(arguments: [LoRAAdapter.weightsFileName, LoRAAdapter.configFileName])
    func aFIFOInPlaceOfAFileIsRefusedWithoutBlocking(file: String) throws {
        let directory = try Self.directory(replacing: file) { path in
            guard mkfifo(path, 0o600) == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent(file).path
        let outcome = try #require(Self.bounded(10, fifo: fifo) { try LoRAAdapter.load(directory: directory) }, "load blocked on a FIFO")
        #expect(throws: (any Error).self) { try outcome.get() }
        if case .failure(let error) = outcome {
            let named = try #require(error as? any NamedError)
            #expect(named.errorKind == .invalidInput)
            #expect(named.reason.contains("FIFO") || named.reason.contains("not a regular file"), "\(named.description)")
        }
        let digest = try #require(Self.bounded(10, fifo: fifo) { try SHA256Digest.ofFile(at: URL(fileURLWithPath: fifo)) }, "hashing blocked on a FIFO")
        #expect(throws: FileReadError.self) { try digest.get() }
    }

    @Test func aDeviceInPlaceOfTheWeightsIsRefused() throws {
        let directory = try Self.directory(replacing: LoRAAdapter.weightsFileName) { path in
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try #require(Self.bounded(10, fifo: nil) { try LoRAAdapter.load(directory: directory) })
        let error = #expect(throws: SafeTensorsError.self) { try outcome.get() }
        #expect(error?.kind == .fileUnreadable && error?.reason.contains("not a regular file") == true)
    }

    @Test func anOversizedConfigIsRefusedUnread() throws {
        let directory = try Self.directory(replacing: LoRAAdapter.configFileName) { path in
            // 50 MB of spaces after a valid object: never parsed, refused by size.
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.write(contentsOf: Data("{}".utf8))
            try handle.truncate(atOffset: 50_000_000)
            try handle.close()
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: LoRAError.self) { try LoRAAdapter.load(directory: directory) }
        #expect(error?.kind == .malformedConfig)
        #expect(error?.reason.contains("50000000 bytes") == true, "\(String(describing: error))")
    }
}

/// A result handed from a worker thread to the waiting test.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is written once by the worker before it signals the semaphore and read by the test
    // only after the wait returned, so the semaphore orders the two accesses.
    private var value: Result<T, any Error>?
    func set(_ result: Result<T, any Error>) { value = result }
    func get() -> Result<T, any Error>? { value }
}
