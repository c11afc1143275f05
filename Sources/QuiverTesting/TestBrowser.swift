import Foundation
import Testing

/// Headless Chromium (`scripts/services/chromium.sh install`), for tests that look at a page as a person would:
/// found at `QUIVER_TEST_CHROMIUM` or on `PATH`. Missing, the test is skipped — except under CI, where it fails.
public enum TestBrowser {
    public static func require(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> URL {
        if let found = find(environment) { return found }
        let message = "no chromium: run `bash scripts/services/chromium.sh install` first"
        if environment["CI"].map({ !$0.isEmpty && $0 != "0" && $0.lowercased() != "false" }) ?? false {
            throw TestS3.MissingService(message: message + " (CI is set, so a missing browser is a failure)")
        }
        try Test.cancel(Comment(rawValue: message), sourceLocation: sourceLocation)
    }

    static func find(_ environment: [String: String]) -> URL? {
        if let path = environment["QUIVER_TEST_CHROMIUM"], !path.isEmpty, FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in ["chromium", "chromium-browser"] {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return URL(fileURLWithPath: "\(directory)/\(name)")
            }
        }
        return nil
    }
}
