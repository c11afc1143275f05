import Foundation
import QuiverCore
import QuiverTesting
import Testing

/// The vLLM end-to-end run (`integrations/vllm/e2e.sh`): the Quiver resolver plugin and the webhook watcher in a real
/// vLLM serving a tiny Llama, against a real `quiver serve`. It runs only where vLLM is installed
/// (`integrations/vllm/install.sh` made `.venv-vllm`, or `QUIVER_VLLM_VENV` points at one) and
/// `QUIVER_SKIP_VLLM_E2E` is not `1`: vLLM takes 3 GB and up to two minutes to start on these machines.
@Suite("vLLM end to end")
struct VLLMEndToEndTests {
    static var venv: URL {
        ProcessInfo.processInfo.environment["QUIVER_VLLM_VENV"].map { URL(fileURLWithPath: $0) }
            ?? Fixtures.packageRoot.appendingPathComponent(".venv-vllm")
    }

    static var enabled: Bool {
        ProcessInfo.processInfo.environment["QUIVER_SKIP_VLLM_E2E"] != "1"
            && FileManager.default.isExecutableFile(atPath: venv.appendingPathComponent("bin/python").path)
    }

    @Test(.enabled(if: enabled, "vLLM is not installed here (integrations/vllm/install.sh), or QUIVER_SKIP_VLLM_E2E=1"),
          .timeLimit(.minutes(15)))
    func anAliasMoveReachesVLLM() throws {
        _ = try TestS3.require()
        let script = Fixtures.packageRoot.appendingPathComponent("integrations/vllm/e2e.sh")
        let run = try ChildProcess.run("bash", [script.path], environment: [
            "QUIVER_BIN": Fixtures.quiverExecutable.path, "QUIVER_VLLM_VENV": Self.venv.path,
        ])
        #expect(run.status == 0, "e2e.sh exited \(run.status):\n\(run.stdout.suffix(6000))\n\(run.stderr.suffix(3000))")
        #expect(run.stdout.contains(" passed, 0 failed"), "\(run.stdout.suffix(3000))")
    }
}
