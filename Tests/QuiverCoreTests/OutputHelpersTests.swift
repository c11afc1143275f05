import Foundation
import QuiverCore
import Testing

/// The shared output helpers: atomic directory writes, the JSON set-up, number formats and secret redaction.
@Suite("output helpers")
struct OutputHelpersTests {
    private func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func aDirectoryAppearsWholeOrNotAtAll() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let destination = root.appendingPathComponent("nested/out")
        let value = try AtomicDirectory.write(to: destination) { directory in
            #expect(directory.lastPathComponent.hasPrefix(".out.tmp-"))
            #expect(!FileManager.default.fileExists(atPath: destination.path), "invisible until complete")
            try Data("a".utf8).write(to: directory.appendingPathComponent("a.txt"))
            return 7
        }
        #expect(value == 7)
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination.path) == ["a.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("nested").path) == ["out"])

        // An existing destination is a conflict, and nothing is left behind.
        let error = #expect(throws: DirectoryWriteError.self) {
            try AtomicDirectory.write(to: destination) { _ in Issue.record("the body must not run") }
        }
        #expect(error?.errorKind == .conflict && error?.code == "fs.output_exists")

        // A failing body leaves no temporary and no destination.
        struct Failure: Error {}
        let other = root.appendingPathComponent("nested/other")
        #expect(throws: Failure.self) {
            try AtomicDirectory.write(to: other) { directory in
                try Data("partial".utf8).write(to: directory.appendingPathComponent("p"))
                throw Failure()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("nested").path) == ["out"])
    }

    @Test func jsonIsPrettySortedWithPlainSlashesAndISODates() throws {
        struct Sample: Encodable {
            let zeta = 1
            let path = "sha256/ab"
            let at = Date(timeIntervalSince1970: 0)
        }
        #expect(try JSONOutput.string(Sample()) == """
            {
              "at" : "1970-01-01T00:00:00Z",
              "path" : "sha256/ab",
              "zeta" : 1
            }
            """)
    }

    @Test func numbersReadAsBefore() {
        #expect(NumberFormat.compact(16) == "16")
        #expect(NumberFormat.compact(-2) == "-2")
        #expect(NumberFormat.compact(0.5) == "0.5")
        #expect(NumberFormat.compact(1e20) == "1e+20")
        #expect(NumberFormat.fixed(0.1234, 3) == "0.123")
        #expect(NumberFormat.fixed(0.1234, 2, sign: true) == "+0.12")
        #expect(NumberFormat.fixed(-0.96, 2, sign: true) == "-0.96")
        #expect(NumberFormat.significant(0.000123456, 4) == "0.0001235")
        #expect(NumberFormat.percent(0.42) == " 42.0%")
        #expect(NumberFormat.percent(nil) == "    -")
        #expect(NumberFormat.zeroPadded(7, 4) == "0007")
    }

    @Test func secretsAreMasked() {
        let redaction = SecretRedaction(
            environment: ["AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "DATABASE_URL": "postgresql://u:p%40ss-word@h/db"],
            arguments: ["--database-url", "postgresql://admin:hunter2hunter2@db/q"])
        let text = redaction.redact("key wJalrXUtnFEMI; pw p@ss-word; hunter2hunter2; conninfo password=abc123 host=x; postgresql://x:y-secret@h")
        for secret in ["wJalrXUtnFEMI", "p@ss-word", "hunter2hunter2", "abc123", "y-secret"] {
            #expect(!text.contains(secret), "\(secret) in \(text)")
        }
        #expect(text.contains("postgresql://x:***@h"))
        #expect(SecretRedaction(secrets: ["ab"]).redact("about") == "about", "too short to mask")
    }
}
