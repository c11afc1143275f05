import CFileSync

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
