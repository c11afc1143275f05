import ArgumentParser
import Foundation
import QuiverCore
import Registry

/// `quiver pull REF --output DIR`: writes a PEFT directory, verifying every digest.
public struct PullCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "pull", abstract: "Download a version as a PEFT directory (every blob verified).")

    @OptionGroup var options: RegistryOptions
    @Option(help: "Output directory (must not exist).") var output: String
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func validate() throws {
        _ = try AdapterRef.parse(ref)
    }

    public func run() throws {
        let destination = URL(fileURLWithPath: output)
        try AtomicDirectory.requireAbsent(destination)
        let version = try options.service().pull(try AdapterRef.parse(ref), to: destination)
        print("pulled \(version.label) into \(output) (config and weights verified)")
    }
}
