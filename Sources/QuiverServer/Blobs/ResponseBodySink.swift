import Foundation
import NIOCore

/// The other direction: a blob store writes a blob (blocking, on an executor thread) with ``write(_:)``, and the
/// response body's writer (async, on the request's task) takes the buffers with ``next()`` and sends them.
///
/// At most `capacity` bytes wait between the two; a slow client makes the store's writing thread wait, so a
/// download is never held in memory whole.
///
/// `@unchecked Sendable`: every stored property is mutable only under `condition`'s lock; the async side never
/// waits on the condition (it suspends on `dataWaiter`, resumed outside the lock).
final class ResponseBodySink: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var chunks: [ByteBuffer] = []
    private var buffered = 0
    private var finished = false
    private var failure: (any Error)?
    /// The client went away: the writer stops with an error.
    private var cancelled = false
    private var dataWaiter: CheckedContinuation<Void, Never>?
    private let allocator = ByteBufferAllocator()

    init(capacity: Int = 1 << 20) {
        self.capacity = max(1, capacity)
    }

    /// Called by the store for each piece of the blob, in order; blocks while `capacity` bytes wait to be sent.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        condition.lock()
        while buffered >= capacity && !cancelled { condition.wait() }
        if cancelled {
            condition.unlock()
            throw ServerError(.unavailable, code: "server.client_gone", reason: "the client closed the connection during the download")
        }
        chunks.append(buffer)
        buffered += bytes.count
        let waiter = dataWaiter
        dataWaiter = nil
        condition.unlock()
        waiter?.resume()
    }

    /// The store is done (or failed: the response is cut short, so the client sees a truncated body).
    func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        let waiter = dataWaiter
        dataWaiter = nil
        condition.unlock()
        waiter?.resume()
    }

    /// The client went away: unblock the store's thread.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next buffer to send; nil at the end. Throws the store's error when it failed part-way.
    func next() async throws -> ByteBuffer? {
        while true {
            switch take() {
            case .chunk(let chunk): return chunk
            case .end: return nil
            case .failed(let error): throw error
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    if !park(continuation) { continuation.resume() }
                }
            }
        }
    }

    private enum Step { case chunk(ByteBuffer), end, failed(any Error), wait }

    private func take() -> Step {
        condition.lock()
        defer { condition.unlock() }
        if !chunks.isEmpty {
            let chunk = chunks.removeFirst()
            buffered -= chunk.readableBytes
            condition.signal()
            return .chunk(chunk)
        }
        if finished { return failure.map { .failed($0) } ?? .end }
        return .wait
    }

    /// Parks `continuation` until data or the end arrives; false when it is already there (resume now).
    private func park(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard chunks.isEmpty && !finished else { return false }
        dataWaiter = continuation
        return true
    }
}
