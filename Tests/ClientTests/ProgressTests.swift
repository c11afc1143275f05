import Foundation
import QuiverClient
import Synchronization
import Testing

/// Progress lines: their text (pure), and what a non-terminal gets (no timing involved: the clock is a value the
/// test sets).
@Suite("progress lines")
struct ProgressTests {
    @Test(arguments: [
        (Int64(0), "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1_536, "1.5 kB"), (12_345_678, "12.3 MB"),
        (999_999_999, "1.0 GB"), (4_000_000_000, "4.0 GB"), (2_500_000_000_000, "2.5 TB"),
    ])
    func bytes(count: Int64, text: String) {
        #expect(ProgressFormat.bytes(count) == text)
    }

    @Test func ratesAndDurations() {
        #expect(ProgressFormat.rate(bytes: 8_200_000, seconds: 2) == "4.1 MB/s")
        #expect(ProgressFormat.rate(bytes: 100, seconds: 0) == nil)
        #expect(ProgressFormat.duration(7) == "0:07")
        #expect(ProgressFormat.duration(754) == "12:34")
        #expect(ProgressFormat.duration(3723) == "1:02:03")
    }

    @Test func bar() {
        #expect(ProgressFormat.bar(fraction: 0, width: 12) == "[..........]")
        #expect(ProgressFormat.bar(fraction: 0.5, width: 12) == "[#####.....]")
        #expect(ProgressFormat.bar(fraction: 1.7, width: 12) == "[##########]")
    }

    @Test func liveLineShowsBytesRateAndETA() {
        let state = TransferState(direction: .upload, label: "adapter_model.safetensors", done: 12_000_000, total: 48_000_000, seconds: 3)
        let line = ProgressFormat.line(state, width: 120)
        #expect(line.hasPrefix("uploading adapter_model.safetensors  ["))
        #expect(line.hasSuffix("]  25%  12.0 MB / 48.0 MB  4.0 MB/s  ETA 0:09"))
        #expect(line.count < 120)
    }

    @Test func liveLineFitsANarrowTerminal() {
        let state = TransferState(direction: .download, label: String(repeating: "x", count: 200), done: 5, total: 10, seconds: 1)
        for width in [20, 40, 60, 80] {
            #expect(ProgressFormat.line(state, width: width).count < width, "width \(width)")
        }
    }

    @Test func summaryLine() {
        let state = TransferState(direction: .download, label: "adapter_config.json", done: 2_000, total: 2_000, seconds: 0.5)
        #expect(ProgressFormat.summary(state) == "downloaded adapter_config.json: 2.0 kB in 0.5 s (4.0 kB/s)")
        let waiting = ProgressFormat.waiting("merge job 12", status: "running (attempt 1/3)", seconds: 65, width: 80)
        #expect(waiting == "merge job 12: running (attempt 1/3), 1:05")
    }

    /// What a reporter wrote, and a clock the test moves.
    final class Recorder: Sendable {
        let text = Mutex("")
        let now = Mutex(100.0)
        func reporter(_ mode: ProgressReporter.Mode) -> ProgressReporter {
            ProgressReporter(mode: mode, output: { line in self.text.withLock { $0 += line } }, clock: { self.now.withLock { $0 } })
        }
    }

    @Test func plainModePrintsOneLineAtTheEndAndNothingInBetween() {
        let recorder = Recorder()
        let bar = recorder.reporter(.plain).transfer(.upload, label: "adapter_model.safetensors", total: 4_000_000)
        for step in 1...4 {
            recorder.now.withLock { $0 += 0.5 }
            bar.update(Int64(step) * 1_000_000)
        }
        #expect(recorder.text.withLock { $0 }.isEmpty)
        bar.finish()
        #expect(recorder.text.withLock { $0 } == "uploaded adapter_model.safetensors: 4.0 MB in 2.0 s (2.0 MB/s)\n")
    }

    @Test func plainModeWaitsSilentlyAndNotesStayPlain() {
        let recorder = Recorder()
        let reporter = recorder.reporter(.plain)
        reporter.note("adapter_config.json: already on the server")
        let wait = reporter.waiting("merge job 3")
        wait.update("queued")
        wait.finish()
        reporter.transfer(.download, label: "x", total: 10).abandon()
        #expect(recorder.text.withLock { $0 } == "adapter_config.json: already on the server\n")
    }

    @Test func silentModePrintsNothing() {
        let recorder = Recorder()
        let reporter = recorder.reporter(.silent)
        reporter.note("a note")
        let bar = reporter.transfer(.upload, label: "f", total: 1)
        bar.update(1)
        bar.finish()
        #expect(recorder.text.withLock { $0 }.isEmpty)
    }

    @Test func terminalModeRedrawsInPlaceThenLeavesTheSummary() {
        let recorder = Recorder()
        let bar = recorder.reporter(.terminal(width: 100)).transfer(.download, label: "w", total: 1000)
        recorder.now.withLock { $0 += 1 }
        bar.update(500)
        bar.update(600)  // within the redraw interval: not drawn
        recorder.now.withLock { $0 += 1 }
        bar.update(1000)
        bar.finish()
        let text = recorder.text.withLock { $0 }
        let draws = text.components(separatedBy: "\r").filter { !$0.isEmpty }
        #expect(draws.count == 3, "two redraws and the summary: \(draws)")
        #expect(draws[0].contains("50%") && draws[1].contains("100%"))
        #expect(text.hasSuffix("\r\u{1B}[Kdownloaded w: 1.0 kB in 2.0 s (500 B/s)\n"))
    }
}
