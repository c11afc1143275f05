import CFileSync
import Foundation
import Synchronization

/// Starts the disk write of a file's range as soon as it is written, so the `fsync` that makes the whole file
/// durable finds most of it already on disk instead of writing it all at the end (a download flushed part by part
/// while later parts still arrive). Advisory: a failure is ignored, since the `fsync` that follows is what
/// guarantees durability and reports errors.
public enum FileWriteback {
    public static func start(fd: Int32, offset: Int64, length: Int64) {
        guard length > 0 else { return }
        _ = quiver_start_writeback(fd, offset, length)
    }
}

/// A file's blocks allocated before it is written.
public enum FileAllocation {
    /// Allocates `fd`'s first `length` bytes (the file grows to `length`, reading as zeros), so writes into it find
    /// their blocks in place and a disk without room says so now. Returns 0, or the errno: ENOSPC or EDQUOT when
    /// there is no room, EOPNOTSUPP where the file system cannot allocate ahead (the caller sizes the file sparse).
    public static func reserve(fd: Int32, length: Int64) -> Int32 {
        quiver_allocate(fd, length)
    }
}

/// Starts the disk write of a file's ranges (``FileWriteback``) on a thread of its own, so whoever writes the file
/// never waits for it. Submitting a range's blocks to the disk can block: on this project's virtual disks, while
/// another tenant kept the disk busy, each 2 MiB took up to 6.7 ms to submit, and a download's workers that
/// started their own writeback spent that time away from the network (their ranges arrived that much later).
/// Ranges still pending at ``finish()`` are dropped: the `fsync` that follows writes them.
public final class WritebackQueue: Sendable {
    private let shared: Shared
    private let fd: Int32

    /// What the thread and the queue share (the thread holds this, not the queue, so dropping the queue finishes it).
    private final class Shared: Sendable {
        struct State {
            var pending: [(offset: Int64, length: Int64)] = []
            var started = false
            var stopping = false
        }
        let state = Mutex(State())
        let wake = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
    }

    /// A queue for the open file `fd`, which must stay open until ``finish()`` returns.
    public init(fd: Int32) {
        self.fd = fd
        shared = Shared()
    }

    /// Asks for `fd`'s bytes from `offset` to be written to disk soon; returns at once. The thread starts with the
    /// first range (a file that never submits one costs none).
    public func submit(offset: Int64, length: Int64) {
        guard length > 0 else { return }
        let startThread = shared.state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.pending.append((offset, length))
            defer { state.started = true }
            return !state.started
        }
        if startThread { start() }
        shared.wake.signal()
    }

    /// Stops the thread once the range it is submitting (if any) is submitted, dropping the rest; idempotent.
    /// After it returns, nothing more is submitted for `fd`.
    public func finish() {
        let running = shared.state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.started && !state.stopping
        }
        guard running else { return }
        shared.wake.signal()
        shared.done.wait()
    }

    deinit { finish() }

    /// Whether the thread was started and not asked to stop.
    var isRunning: Bool { shared.state.withLock { $0.started && !$0.stopping } }

    private enum Step { case submit(offset: Int64, length: Int64), wait, stop }

    private func start() {
        let thread = Thread { [shared, fd] in
            defer { shared.done.signal() }
            while true {
                let step = shared.state.withLock { state -> Step in
                    if state.stopping { return .stop }
                    guard !state.pending.isEmpty else { return .wait }
                    let next = state.pending.removeFirst()
                    return .submit(offset: next.offset, length: next.length)
                }
                switch step {
                case .submit(let offset, let length): FileWriteback.start(fd: fd, offset: offset, length: length)
                case .wait: shared.wake.wait()
                case .stop: return
                }
            }
        }
        thread.name = "quiver-writeback"
        thread.start()
    }
}
