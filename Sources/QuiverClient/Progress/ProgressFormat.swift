import Foundation
import QuiverCore

/// One transfer as a progress line shows it.
public struct TransferState: Sendable, Equatable {
    public enum Direction: String, Sendable {
        case upload, download

        var present: String { self == .upload ? "uploading" : "downloading" }
        var past: String { self == .upload ? "uploaded" : "downloaded" }
    }

    public var direction: Direction
    /// What moves (a file name).
    public var label: String
    public var done: Int64
    public var total: Int64
    /// Seconds since the transfer started.
    public var seconds: Double

    public init(direction: Direction, label: String, done: Int64, total: Int64, seconds: Double) {
        self.direction = direction
        self.label = label
        self.done = done
        self.total = total
        self.seconds = seconds
    }
}

/// The text of progress lines, without any timing or terminal logic: bytes, rates, durations, bars.
public enum ProgressFormat {
    /// Decimal units, as transfer rates are quoted: `512 B`, `1.5 kB`, `12.3 MB`, `4.0 GB`.
    public static func bytes(_ count: Int64) -> String {
        guard count >= 1000 else { return "\(max(0, count)) B" }
        var value = Double(count) / 1000
        for unit in ["kB", "MB", "GB", "TB"] {
            if value < 999.95 || unit == "TB" { return "\(NumberFormat.fixed(value, 1)) \(unit)" }
            value /= 1000
        }
        return "\(count) B"
    }

    /// `4.1 MB/s`; nil before any time has passed.
    public static func rate(bytes: Int64, seconds: Double) -> String? {
        guard seconds >= 0.001 else { return nil }
        return self.bytes(Int64((Double(bytes) / seconds).rounded())) + "/s"
    }

    /// `0:07`, `12:34`, `1:02:03`.
    public static func duration(_ seconds: Double) -> String {
        let whole = Int(max(0, seconds).rounded())
        let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60)
        return hours > 0 ? "\(hours):\(NumberFormat.zeroPadded(minutes, 2)):\(NumberFormat.zeroPadded(rest, 2))"
            : "\(minutes):\(NumberFormat.zeroPadded(rest, 2))"
    }

    /// Seconds left at the average rate so far; nil until something has moved.
    public static func remaining(_ state: TransferState) -> Double? {
        guard state.done > 0, state.seconds > 0, state.total >= state.done else { return nil }
        return Double(state.total - state.done) / (Double(state.done) / state.seconds)
    }

    /// `[##########..........]`: `width` characters in all.
    public static func bar(fraction: Double, width: Int) -> String {
        let inner = max(0, width - 2)
        let filled = Int((min(max(fraction, 0), 1) * Double(inner)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: inner - filled) + "]"
    }

    /// The live line: `uploading adapter_model.safetensors [#####.....]  45%  12.3 MB / 27.0 MB  4.1 MB/s  ETA 0:04`,
    /// fitted into `width` columns (the bar shrinks first, then the label is cut).
    public static func line(_ state: TransferState, width: Int) -> String {
        let fraction = state.total > 0 ? Double(state.done) / Double(state.total) : 1
        let percent = "\(Int((min(max(fraction, 0), 1) * 100).rounded(.down)))%"
        var figures = "\(percent)  \(bytes(state.done)) / \(bytes(state.total))"
        if let rate = rate(bytes: state.done, seconds: state.seconds) { figures += "  \(rate)" }
        if let left = remaining(state), state.done < state.total { figures += "  ETA \(duration(left))" }
        var label = "\(state.direction.present) \(TerminalText.escape(state.label))"
        let room = width - 1 - figures.count - 4  // two gaps of two spaces; the last column stays free (no wrap)
        var barWidth = min(32, room - label.count)
        if barWidth < 10 {
            barWidth = 10
            let labelRoom = max(4, room - barWidth)
            if label.count > labelRoom { label = String(label.prefix(labelRoom - 1)) + "…" }
        }
        let text = "\(label)  \(bar(fraction: fraction, width: barWidth))  \(figures)"
        return text.count < width ? text : String(text.prefix(max(1, width - 1)))
    }

    /// The closing line: `uploaded adapter_model.safetensors: 27.0 MB in 6.6 s (4.1 MB/s)`.
    public static func summary(_ state: TransferState) -> String {
        var text = "\(state.direction.past) \(TerminalText.escape(state.label)): \(bytes(state.done)) in \(NumberFormat.fixed(state.seconds, 1)) s"
        if let rate = rate(bytes: state.done, seconds: state.seconds) { text += " (\(rate))" }
        return text
    }

    /// A wait's live line: `merge job 12: running (attempt 1/3), 0:05`, fitted into `width` columns.
    public static func waiting(_ label: String, status: String, seconds: Double, width: Int) -> String {
        let text = "\(TerminalText.escape(label)): \(status), \(duration(seconds))"
        return text.count < width ? text : String(text.prefix(max(1, width - 1)))
    }
}
