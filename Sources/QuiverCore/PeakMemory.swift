import Foundation

/// This process's peak resident set size.
public enum PeakMemory {
    /// `VmHWM` from /proc/self/status, in bytes; nil where /proc is missing.
    ///
    /// Unlike a parent's `ru_maxrss` for a child, which on Linux keeps the high-water mark of the address space the
    /// child replaced at exec (the parent's, after `posix_spawn`), this counts only this program's own pages.
    public static func residentBytes() -> Int64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").compactMap({ Int64($0) }).first
        else { return nil }
        return kilobytes * 1024
    }
}
