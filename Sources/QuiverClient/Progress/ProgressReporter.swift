import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where transfer and wait progress goes: a terminal gets `\r`-redrawn lines (bytes, rate, ETA), anything else
/// (a pipe, a log file, CI) one plain line per finished transfer and nothing in between; `silent` nothing at all.
///
/// The output and the clock are injected, so the formatting and the non-terminal behaviour are tested without a
/// terminal or any waiting.
public struct ProgressReporter: Sendable {
    public enum Mode: Sendable, Equatable {
        /// Redrawn lines fitted to this many columns.
        case terminal(width: Int)
        /// Plain lines, one per finished transfer or note.
        case plain
        case silent
    }

    public let mode: Mode
    let output: @Sendable (String) -> Void
    let clock: @Sendable () -> Double
    /// Least time between two redraws of a live line, in seconds.
    let redrawInterval: Double

    public init(mode: Mode, output: @escaping @Sendable (String) -> Void,
                clock: @escaping @Sendable () -> Double = ProgressReporter.monotonicSeconds, redrawInterval: Double = 0.1) {
        self.mode = mode
        self.output = output
        self.clock = clock
        self.redrawInterval = redrawInterval
    }

    /// Nothing is shown.
    public static let silent = ProgressReporter(mode: .silent, output: { _ in })

    /// Progress on the process's standard error: live lines when it is a terminal, plain lines otherwise.
    public static func standardError(environment: [String: String] = ProcessInfo.processInfo.environment) -> ProgressReporter {
        let write: @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
        guard isatty(STDERR_FILENO) == 1, environment["TERM"] != "dumb" else { return ProgressReporter(mode: .plain, output: write) }
        return ProgressReporter(mode: .terminal(width: terminalWidth(environment: environment)), output: write)
    }

    /// The terminal's columns (TIOCGWINSZ on standard error), else `COLUMNS`, else 80.
    static func terminalWidth(environment: [String: String]) -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20 { return Int(size.ws_col) }
        if let columns = environment["COLUMNS"].flatMap(Int.init), columns >= 20 { return columns }
        return 80
    }

    @Sendable public static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// A line of its own (a skipped upload, a queued merge), in both terminal and plain modes.
    public func note(_ line: String) {
        if mode != .silent { output(line + "\n") }
    }

    /// Starts showing one transfer of `total` bytes.
    public func transfer(_ direction: TransferState.Direction, label: String, total: Int64) -> TransferBar {
        TransferBar(reporter: self, state: TransferState(direction: direction, label: label, done: 0, total: total, seconds: 0))
    }

    /// Starts showing a wait (a merge job the server queued).
    public func waiting(_ label: String) -> WaitIndicator {
        WaitIndicator(reporter: self, label: label)
    }
}

/// One transfer's live line; used from the transfer's own thread (curl's progress callback).
public final class TransferBar {
    private let reporter: ProgressReporter
    private var state: TransferState
    private let started: Double
    private var lastDraw = -Double.infinity
    private var drawn = false

    init(reporter: ProgressReporter, state: TransferState) {
        self.reporter = reporter
        self.state = state
        self.started = reporter.clock()
    }

    /// `done` bytes have moved; a terminal line is redrawn at most every ``ProgressReporter/redrawInterval``.
    public func update(_ done: Int64) {
        state.done = done
        guard case .terminal(let width) = reporter.mode else { return }
        let now = reporter.clock()
        guard now - lastDraw >= reporter.redrawInterval || done >= state.total else { return }
        lastDraw = now
        state.seconds = now - started
        reporter.output("\r" + ProgressFormat.line(state, width: width) + "\u{1B}[K")
        drawn = true
    }

    /// The transfer completed: the live line gives way to the summary (in plain mode, the summary alone).
    public func finish() {
        state.seconds = reporter.clock() - started
        switch reporter.mode {
        case .terminal: reporter.output("\r\u{1B}[K" + ProgressFormat.summary(state) + "\n")
        case .plain: reporter.output(ProgressFormat.summary(state) + "\n")
        case .silent: break
        }
    }

    /// The transfer failed: the live line is cleared, so the error prints on a clean line.
    public func abandon() {
        if drawn, case .terminal = reporter.mode { reporter.output("\r\u{1B}[K") }
    }
}

/// A wait's live line (terminal only: a plain log gets the caller's note and the outcome, nothing in between).
public final class WaitIndicator {
    private let reporter: ProgressReporter
    private let label: String
    private let started: Double
    private var drawn = false

    init(reporter: ProgressReporter, label: String) {
        self.reporter = reporter
        self.label = label
        self.started = reporter.clock()
    }

    /// Redraws the line with the latest status.
    public func update(_ status: String) {
        guard case .terminal(let width) = reporter.mode else { return }
        reporter.output("\r" + ProgressFormat.waiting(label, status: status, seconds: reporter.clock() - started, width: width) + "\u{1B}[K")
        drawn = true
    }

    /// The wait is over: the live line is cleared.
    public func finish() {
        if drawn, case .terminal = reporter.mode { reporter.output("\r\u{1B}[K") }
        drawn = false
    }
}
