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
        // A real character device node (like /dev/null: 1, 3) inside the directory; creating one needs root, which
        // CI and the trials have. Elsewhere a symlink to /dev/zero stands in and is refused as a link outside.
        var made = false
        let directory = try Self.directory(replacing: LoRAAdapter.weightsFileName) { path in
            made = mknod(path, S_IFCHR | 0o600, dev_t(0x103)) == 0  // major 1, minor 3
            if !made { try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero") }
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try #require(Self.bounded(10, fifo: nil) { try LoRAAdapter.load(directory: directory) })
        #expect(throws: (any Error).self) { try outcome.get() }
        if case .failure(let error) = outcome {
            let named = try #require(error as? any NamedError)
            #expect(named.errorKind == .invalidInput)
            #expect(named.reason.contains(made ? "not a regular file" : "outside the adapter directory"), "\(named.description)")
        }
    }

    @Test(arguments: [LoRAAdapter.weightsFileName, LoRAAdapter.configFileName])
    func aSymlinkLeadingOutsideTheDirectoryIsRefused(file: String) throws {
        // The target is a perfectly good file (the golden adapter's own), just not inside the directory.
        let target = adapterURL("a1").appendingPathComponent(file).path
        let directory = try Self.directory(replacing: file) { path in
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: LoRAError.self) { try LoRAAdapter.load(directory: directory) }
        #expect(error?.code == "lora.link_outside")
        #expect(error?.reason.contains(file) == true && error?.reason.contains("outside the adapter directory") == true)
        #expect(error?.hint.contains("cp -L") == true)

        // A dangling link and a relative link climbing out with `..` are refused the same way.
        let path = directory.appendingPathComponent(file).path
        for destination in ["/nonexistent/\(UUID())", "../../../../../../../../etc/passwd"] {
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: destination)
            let refused = #expect(throws: LoRAError.self) { try LoRAAdapter.load(directory: directory) }
            #expect(refused?.code == "lora.link_outside", "\(destination): \(String(describing: refused))")
        }
    }

    @Test func aSymlinkInsideTheDirectoryIsFollowed() throws {
        let directory = try Self.directory(replacing: LoRAAdapter.weightsFileName) { path in
            let inside = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("real.safetensors")
            try FileManager.default.copyItem(at: adapterURL("a1").appendingPathComponent(LoRAAdapter.weightsFileName), to: inside)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "real.safetensors")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try LoRAAdapter.load(directory: directory).modules.count > 0)
    }

    @Test func aHeaderClaiming2To63BytesIsRefusedUnallocated() throws {
        let directory = try Self.directory(replacing: LoRAAdapter.weightsFileName) { path in
            var bytes = Data()
            withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(Data("{\"__metadata__\":{}}".utf8))
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try #require(Self.bounded(10, fifo: nil) { try LoRAAdapter.load(directory: directory) }, "took too long")
        let error = #expect(throws: SafeTensorsError.self) { try outcome.get() }
        #expect(error?.code.hasPrefix("safetensors.") == true, "\(String(describing: error))")

        // Offsets claiming 2^63 bytes in a small file, the same.
        let huge = UInt64(1) << 63
        let header = "{\"x.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\(huge)]}}"
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(Data(header.utf8))
        bytes.append(Data(count: 4))
        try bytes.write(to: directory.appendingPathComponent(LoRAAdapter.weightsFileName))
        #expect(throws: SafeTensorsError.self) { try LoRAAdapter.load(directory: directory) }
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
