import ArgumentParser
import Registry

/// Where the catalog and the blobs are, and who is acting: the options of a registry opened in this process
/// (local mode), and of the commands that only make sense next to the database (`worker`, `serve`).
public struct LocalRegistryOptions: ParsableArguments {
    @Option(name: .long, help: "PostgreSQL URL (default: QUIVER_DATABASE_URL, DATABASE_URL, else the embedded server under QUIVER_HOME).")
    var databaseURL: String?

    @Option(name: .long, help: "Blob store: s3://bucket/prefix (AWS_* settings) or a directory (default: QUIVER_BLOB_STORE, else $QUIVER_HOME/blobs).")
    var blobStore: String?

    @Option(name: .long, help: "Who is acting, recorded in the catalog (default: QUIVER_ACTOR, else the OS user).")
    var actor: String?

    public init() {}

    public func validate() throws {
        try OptionParsing.blobStore(blobStore)
    }

    /// The flags over the environment and the defaults.
    var configuration: RegistryConfiguration {
        RegistryConfiguration(databaseURL: databaseURL, blobStore: blobStore, actor: actor)
    }

    /// Opens the registry, starting the embedded database and migrating the catalog when needed.
    func open(maxConnections: Int = 4) throws -> Registry {
        try configuration.openRegistry(maxConnections: maxConnections)
    }
}
