import Foundation
import CFileSync
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Which file a path named when it was opened: its device and inode. A path renamed over or replaced afterwards
/// names another file; an open descriptor keeps naming the first.
public struct FileIdentity: Sendable, Hashable {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// The identity of the file `status` describes.
    public init(_ status: stat) {
        self.init(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// The identity of the file open as `descriptor`; nil when `fstat` fails.
    public init?(descriptor: Int32) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        self.init(status)
    }
}

/// A read lease on a file (Linux `fcntl(F_SETLEASE, F_RDLCK)`): proof, while it stands, that no process has opened
/// the file for writing or truncated it since the lease was taken, so its bytes are what they were then.
///
/// The kernel grants the lease only when nobody has the file open for writing (a writable descriptor or a shared
/// writable mapping) and breaks it the moment anybody opens it for writing or truncates it: the writer's `open`
/// waits until the holder lets go. A watcher thread polls the lease every ``pollInterval`` and, once a break
/// begins, marks the lease broken *before* letting go, so the writer is held up for no longer than a poll and no
/// write can land while ``isIntact`` still says true.
///
/// Taken only where the kernel's answer covers every writer:
/// - on Linux, on the local file systems listed in ``localFileSystems`` (ext2/3/4, XFS, Btrfs, tmpfs, F2FS, ZFS,
///   bcachefs). A network or FUSE file system can be written from elsewhere without the local kernel knowing,
///   and an overlay's lower layers can be written around it: no lease there;
/// - by the file's owner or a process with `CAP_LEASE` (the kernel refuses anybody else);
/// - on the very file a caller read (``take(path:expecting:)`` compares device and inode).
///
/// A writer that restores the original bytes before the lease is checked is not told apart from no writer at all,
/// as with any check that compares contents. `take` returns nil wherever a lease is not to be had, and the caller
/// then checks the bytes some other way.
///
/// The break is signalled to the holder with `SIGURG`, whose default action is to ignore it (the owner is cleared
/// too), so a process that never asked for signals is not killed by the kernel's default `SIGIO`.
public final class FileLease: Sendable {
    /// The file the lease is on, as it was identified when taken.
    public let identity: FileIdentity
    /// How often the watcher looks at the lease: the longest a writer waits for the holder to let go.
    public static let pollInterval: Duration = .milliseconds(2)

    /// `statfs` magic numbers of the file systems whose leases see every writer.
    public static let localFileSystems: Set<Int64> = [
        0xEF53,        // ext2, ext3, ext4
        0x5846_5342,   // XFS
        0x9123_683E,   // Btrfs
        0x0102_1994,   // tmpfs
        0xF2F5_2010,   // F2FS
        0x2FC1_2FC1,   // ZFS
        0xCA45_1A4E,   // bcachefs
    ]

    private let descriptor: Int32
    private let watch = Watch()
    private let released = Mutex(false)

    /// What the watcher thread and the lease share (the thread holds this, not the lease, so that dropping the last
    /// reference to the lease releases it).
    private final class Watch: Sendable {
        let broken = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
    }

    private init(descriptor: Int32, identity: FileIdentity) {
        self.descriptor = descriptor
        self.identity = identity
    }

    /// A read lease on the regular file at `path`, or nil when none can be had: not Linux, not a regular file, a
    /// file system not in ``localFileSystems``, another file than `identity` names (when given), the file open for
    /// writing somewhere, not the caller's file, leases turned off (`/proc/sys/fs/leases-enable`).
    public static func take(path: String, expecting identity: FileIdentity? = nil) -> FileLease? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG,
              localFileSystems.contains(quiver_file_system_type(descriptor)),
              identity == nil || identity == FileIdentity(status),
              quiver_lease_take(descriptor) == 0
        else {
            close(descriptor)
            return nil
        }
        let lease = FileLease(descriptor: descriptor, identity: FileIdentity(status))
        lease.startWatcher()
        return lease
    }

    /// True while the lease stands: nobody has opened the file for writing or truncated it since it was taken.
    /// False once a break began, once the kernel took the lease back, and after ``release()``.
    public var isIntact: Bool {
        released.withLock { gone in
            !gone && !watch.broken.load(ordering: .acquiring) && quiver_lease_holds(descriptor) == 1
        }
    }

    /// Gives the lease up (idempotent): writers proceed, and ``isIntact`` is false from now on.
    public func release() {
        let first = released.withLock { gone in
            defer { gone = true }
            return !gone
        }
        guard first else { return }
        watch.stopping.store(true, ordering: .releasing)
        watch.done.wait()
        quiver_lease_release(descriptor)
        close(descriptor)
    }

    deinit { release() }

    /// Polls the lease until it breaks or is released; on a break, marks it broken, then lets the writer in.
    private func startWatcher() {
        let thread = Thread { [descriptor, watch] in
            defer { watch.done.signal() }
            let pause = UInt32(Self.pollInterval.components.attoseconds / 1_000_000_000_000)  // microseconds
            while !watch.stopping.load(ordering: .acquiring) {
                if quiver_lease_holds(descriptor) != 1 {
                    watch.broken.store(true, ordering: .releasing)
                    quiver_lease_release(descriptor)
                    return
                }
                usleep(pause)
            }
        }
        thread.name = "quiver-lease"
        thread.start()
    }
}
