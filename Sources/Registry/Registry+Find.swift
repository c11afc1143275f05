import Foundation
import LoRA
import QuiverCore

extension Registry {
    /// Versions matching every given filter, by name then version.
    public func list(_ filter: VersionFilter = VersionFilter(), limit: Int = 1000) throws -> [AdapterVersion] {
        try catalog.read { try $0.versions.list(filter, limit: limit) }
    }

    /// The modules recorded for a version, by path.
    public func modules(of version: AdapterVersion) throws -> [RecordedModule] {
        try catalog.read { try $0.versions.modules(versionID: version.id) }
    }

    /// Aliases currently pointing at versions of `name`.
    public func aliases(name: String) throws -> [(alias: String, version: Int)] {
        try catalog.read { try $0.aliases.current(name: name) }
    }

    /// Writes the version as a PEFT directory at `output` (which must not exist), verifying every blob's digest as
    /// it downloads; the directory appears only when both files are complete and verified.
    public func pull(_ version: AdapterVersion, to output: URL) throws {
        try AtomicDirectory.write(to: output) { temporary in try download(version, into: temporary) }
    }

    /// Downloads both files of a version into an existing directory (verified).
    func download(_ version: AdapterVersion, into directory: URL) throws {
        try blobs.get(digest: version.configDigest, to: directory.appendingPathComponent(LoRAAdapter.configFileName))
        try blobs.get(digest: version.weightsDigest, to: directory.appendingPathComponent(LoRAAdapter.weightsFileName))
    }
}
