import ArgumentParser
import ObjectStore
import Registry

/// Where the `blob` commands' blobs live, and the S3 transfer tuning; resolved like every registry command's
/// blob store (`RegistryConfiguration`: the flag, else `QUIVER_BLOB_STORE`, else `$QUIVER_HOME/blobs`).
struct BlobStoreOptions: ParsableArguments {
    @Option(
        name: [.customLong("store"), .customLong("blob-store")],
        help: "Blob store: s3://bucket/prefix (AWS_* variables give endpoint and keys), file:///dir or a directory (default: QUIVER_BLOB_STORE, else $QUIVER_HOME/blobs).")
    var store: String?

    @Option(name: .customLong("multipart-threshold-mib"), help: "S3 only: files larger than this many MiB are uploaded in parts.")
    var multipartThresholdMiB: Int = 16

    @Option(name: .customLong("part-size-mib"), help: "S3 only: multipart part size in MiB (at least 5).")
    var partSizeMiB: Int = 16

    @Option(name: .long, help: "S3 only: parts uploaded, or ranges downloaded, at once.")
    var concurrency: Int = 4

    func validate() throws {
        try OptionParsing.blobStore(store)
        guard (0...(1 << 20)).contains(multipartThresholdMiB) else {
            throw OptionError("invalid_option", "--multipart-threshold-mib must be between 0 and 1048576, got \(multipartThresholdMiB)")
        }
        guard (5...5120).contains(partSizeMiB) else {
            throw OptionError("invalid_option", "--part-size-mib must be between 5 and 5120 (S3's part size limits), got \(partSizeMiB)")
        }
        try OptionParsing.positive(concurrency, "concurrency")
    }

    func open() throws -> any BlobStore {
        try RegistryConfiguration(blobStore: store).openBlobStore { settings in
            settings.multipartThreshold = Int64(multipartThresholdMiB) << 20
            settings.partSize = Int64(partSizeMiB) << 20
            settings.uploadConcurrency = concurrency
            settings.downloadConcurrency = concurrency
        }
    }
}
