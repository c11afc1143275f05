import Foundation

/// Locations of the files the test suites read: everything lives under `Tests/Fixtures` in this repository.
public enum Fixtures {
    /// `Tests/Fixtures`, found from this file's own path so tests run from any working directory.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // QuiverTesting
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Tests/Fixtures", isDirectory: true)

    /// The adapters and merges saved by Hugging Face PEFT, described by `manifest.json`.
    public static let peftGolden: URL = root.appendingPathComponent("peft-golden", isDirectory: true)

    /// Small adapters saved by PEFT for cases the golden set lacks (saved base layers, biases, modules_to_save,
    /// layers_to_transform); see its README.md.
    public static let peftExtra: URL = root.appendingPathComponent("peft-extra", isDirectory: true)

    /// The package root, for tests that need `Migrations/` or the scripts.
    public static let packageRoot: URL = root.deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh temporary directory, removed by the caller (or left for the OS's tmp cleaner).
    /// The `quiver` executable that `swift build` put next to the test bundle (it builds every product).
    public static var quiverExecutable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("quiver")
    }

    public static func temporaryDirectory(_ label: String = "quiver") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
