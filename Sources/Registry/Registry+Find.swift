import Foundation
import LoRA
import ObjectStore
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

    /// Downloads both files of a version into an existing directory (verified). The small config comes on a helper
    /// thread while the weights download here, so its round trips and its flush (~10 ms on this project's disks)
    /// are not added to the weights' time; a failure of the config is reported first, as when they ran in turn.
    /// The sizes the catalog recorded let the store start each download without asking for them first, and the
    /// weights' chaining states let parallel ranges verify themselves as they arrive.
    func download(_ version: AdapterVersion, into directory: URL) throws {
        let (blobs, catalog, configURL) = (self.blobs, self.catalog, directory.appendingPathComponent(LoRAAdapter.configFileName))
        let (config, weights) = ParallelMap.alongside(
            { try blobs.get(digest: version.configDigest, known: KnownBlob(size: version.configSize), to: configURL) },
            {
                // Chains are recorded at the default stride, so a file of one stride or less has none to ask for.
                let chain = version.weightsSize > SHA256Chain.defaultStride
                    ? try catalog.read { try $0.blobs.chain(of: version.weightsDigest) } : nil
                return try blobs.get(digest: version.weightsDigest, known: KnownBlob(size: version.weightsSize, chain: chain),
                                     to: directory.appendingPathComponent(LoRAAdapter.weightsFileName))
            })
        _ = try config.get()
        _ = try weights.get()
    }
}
