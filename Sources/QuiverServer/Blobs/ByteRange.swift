/// What a `Range` request header asks of a blob of a known size (RFC 9110 §14): one range of bytes, or the
/// whole blob when there is no header or one the server ignores (another unit, several ranges, bad syntax).
enum ByteRangeRequest: Equatable {
    case whole
    /// Half-open byte offsets, within the blob.
    case partial(Range<Int64>)
    /// A well-formed range that starts past the end (416).
    case unsatisfiable

    /// Parses `header` for a blob of `size` bytes: `bytes=a-b`, `bytes=a-` or `bytes=-n` (the last n bytes).
    static func parse(_ header: String?, size: Int64) -> ByteRangeRequest {
        guard let header, header.utf8.count <= 200 else { return .whole }
        let trimmed = header.trimmed(of: " \t")
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst("bytes=".count).trimmed(of: " \t")
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        func number(_ text: Substring) -> Int64? {
            guard !text.isEmpty, text.utf8.count <= 19, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int64(text)
        }
        if first.isEmpty {
            // A suffix: the last n bytes (all of a shorter blob); a zero-length suffix cannot be satisfied.
            guard let n = number(last) else { return .whole }
            guard n > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - n)..<size)
        }
        guard let start = number(first) else { return .whole }
        let end: Int64
        if last.isEmpty {
            end = size - 1
        } else {
            guard let value = number(last), value >= start else { return .whole }
            end = min(value, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .partial(start..<(end + 1))
    }
}

private extension StringProtocol {
    func trimmed(of set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, set.contains(last) { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
