import Foundation
import NIOCore
import ObjectStore

/// A request body as a blocking ``ByteSource``: the async side (``feed(from:)``, on the request's task) pushes the
/// body's buffers in as they arrive; the blob store pulls them with ``read(into:)`` on an executor thread.
///
/// At most `capacity` bytes wait between the two. When the store is slower than the client, ``feed(from:)``
/// suspends until the store has read enough, so the request body stops being pulled off the socket and TCP
/// pushes back on the client: the body is never held in memory whole, and never written to disk.
///
/// `@unchecked Sendable`: every stored property is mutable only under `condition`'s lock (the async side takes
/// the lock briefly and never waits on the condition; it suspends on `spaceWaiter`, resumed outside the lock).
final class RequestBodySource: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var chunks: [ByteBuffer] = []
    private var buffered = 0
    private var finished = false
    private var failure: (any Error)?
    /// The reader stopped early (the store failed): the feeder stops pulling and discards what comes.
    private var abandoned = false
    private var spaceWaiter: CheckedContinuation<Void, Never>?
    /// Bytes received from the client so far.
    private(set) var received: Int64 = 0

    /// How long the reader waits for the next bytes before it gives up on a stalled client (a slow-loris upload
    /// must not hold an executor thread and an open multipart upload forever).
    private let idleTimeout: TimeInterval

    /// - Parameters:
    ///   - capacity: bytes buffered between client and store before the client is made to wait.
    ///   - idleTimeout: seconds without a byte from the client before ``read(into:)`` fails with
    ///     `server.body_timeout` (408).
    init(capacity: Int = 1 << 20, idleTimeout: TimeInterval = 60) {
        self.capacity = max(1, capacity)
        self.idleTimeout = idleTimeout
    }

    /// Pushes `body`'s buffers to the reader until it ends (or the reader gave up). Errors of the body (a client
    /// that disconnected) are handed to the reader, which throws them from ``read(into:)``.
    func feed<Body: AsyncSequence>(from body: Body) async where Body.Element == ByteBuffer {
        do {
            for try await chunk in body {
                guard await push(chunk) else { return }
            }
            finish(nil)
        } catch {
            finish(error)
        }
    }

    /// The reader gives up (the store failed or is done): wake the feeder so it can return.
    func abandon() {
        condition.lock()
        abandoned = true
        chunks.removeAll()
        buffered = 0
        let waiter = spaceWaiter
        spaceWaiter = nil
        condition.unlock()
        waiter?.resume()
    }

    /// Bytes received so far (for metrics).
    var bytesReceived: Int64 {
        condition.lock()
        defer { condition.unlock() }
        return received
    }

    /// Appends one buffer; waits while `capacity` bytes are buffered. Returns false once the reader abandoned.
    private func push(_ chunk: ByteBuffer) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !append(chunk, orPark: continuation) { continuation.resume() }
        }
        return !isAbandoned
    }

    /// Appends `chunk` and parks `continuation` until there is space again; false when it must resume now.
    private func append(_ chunk: ByteBuffer, orPark continuation: CheckedContinuation<Void, Never>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !abandoned else { return false }
        chunks.append(chunk)
        buffered += chunk.readableBytes
        received += Int64(chunk.readableBytes)
        condition.signal()
        guard buffered >= capacity else { return false }
        spaceWaiter = continuation
        return true
    }

    private var isAbandoned: Bool {
        condition.lock()
        defer { condition.unlock() }
        return abandoned
    }

    private func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.signal()
        condition.unlock()
    }

    /// Blocks until bytes (or the end) arrive; copies up to `buffer.count` bytes. Returns 0 at the end of the body.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        condition.lock()
        let deadline = Date().addingTimeInterval(idleTimeout)
        while chunks.isEmpty && !finished && !abandoned {
            if !condition.wait(until: deadline) && chunks.isEmpty && !finished && !abandoned {
                condition.unlock()
                throw ServerError.bodyTimeout(seconds: idleTimeout)
            }
        }
        if chunks.isEmpty {
            let error = failure
            condition.unlock()
            if let error { throw ServerError.invalid("the request body ended early: \(error)") }
            return 0
        }
        var first = chunks[0]
        let count = min(buffer.count, first.readableBytes)
        first.withUnsafeReadableBytes { bytes in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
        }
        first.moveReaderIndex(forwardBy: count)
        if first.readableBytes == 0 { chunks.removeFirst() } else { chunks[0] = first }
        buffered -= count
        var waiter: CheckedContinuation<Void, Never>?
        if buffered < capacity {
            waiter = spaceWaiter
            spaceWaiter = nil
        }
        condition.unlock()
        waiter?.resume()
        return count
    }
}
