import Foundation
import QuiverCore
import Testing

/// OpenSSF's `model_signing` command (pip `model-signing`), installed by `scripts/services/model-signing.sh
/// install` into `.venv-signing/` at the package root, or named by `QUIVER_TEST_MODEL_SIGNING`. The interop tests
/// run it for real; without it a local run skips them and a CI run fails (the rule of every test service).
public enum ModelSigningTool {
    /// The `model_signing` executable, or nil when it is not installed.
    public static var executable: String? {
        let environment = ProcessInfo.processInfo.environment
        let candidates: [String?] = [environment["QUIVER_TEST_MODEL_SIGNING"], Fixtures.packageRoot.appendingPathComponent(".venv-signing/bin/model_signing").path]
        for candidate in candidates {
            if let candidate, !candidate.isEmpty, FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The executable; skips the test when it is missing, except under CI, where that is a failure.
    public static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        if let executable { return executable }
        let message = "model_signing is not installed: run `bash scripts/services/model-signing.sh install` (or set QUIVER_TEST_MODEL_SIGNING)"
        if let ci = ProcessInfo.processInfo.environment["CI"], !ci.isEmpty, ci != "0", ci.lowercased() != "false" {
            throw TestServiceError(message: message + " (required under CI)")
        }
        try Test.cancel(Comment(rawValue: message), sourceLocation: sourceLocation)
    }

    /// `model_signing verify key DIR --signature DIR/model.sig --public_key KEY`.
    public static func verify(directory: URL, publicKey: URL) throws -> ChildProcess.Outcome {
        try ChildProcess.run(try require(), [
            "verify", "key", directory.path, "--signature", directory.appendingPathComponent("model.sig").path, "--public_key", publicKey.path,
        ])
    }
}
