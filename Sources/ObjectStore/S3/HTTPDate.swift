import Foundation

/// The two date formats S3 uses, parsed without shared DateFormatters (which are not thread-safe).
enum HTTPDate {
    /// ISO 8601 as in ListObjectsV2 (`2024-05-01T12:34:56.789Z`); fractional seconds optional.
    static func parseISO8601(_ text: String) -> Date? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 19 else { return nil }
        func number(_ from: Int, _ length: Int) -> Int? {
            var value = 0
            for byte in utf8[from..<(from + length)] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
        else { return nil }
        var fraction = 0.0
        if utf8.count > 20, utf8[19] == UInt8(ascii: ".") {
            var scale = 0.1
            for byte in utf8[20...] where byte >= 48 && byte <= 57 {
                fraction += Double(byte - 48) * scale
                scale /= 10
            }
        }
        return date(year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction)
    }

    /// RFC 1123 as in `Last-Modified` (`Wed, 01 May 2024 12:34:56 GMT`).
    static func parseRFC1123(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count >= 5, let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3 else { return nil }
        return date(year: year, month: monthIndex + 1, day: day, hour: clock[0], minute: clock[1], second: clock[2], fraction: 0)
    }

    private static func date(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, fraction: Double) -> Date? {
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}
