import Foundation
import Testing

/// The SeaweedFS started by `scripts/services/seaweedfs.sh start`, as described by `.services/s3.env`.
///
/// Plain values only, so this library does not depend on ObjectStore; suites build their settings from it.
public struct TestS3: Sendable {
    public var endpoint: String
    public var bucket: String
    public var accessKey: String
    public var secretKey: String
    public var region: String

    /// The server from the `QUIVER_TEST_S3_*` variables.
    ///
    /// When they are absent the test is skipped with a message — except under CI (`CI` set), where a missing
    /// server is a failure: CI must run the integration tests, never silently skip them.
    public static func require(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> TestS3 {
        if let found = fromEnvironment(environment) { return found }
        let message = "no test S3: run `bash scripts/services/seaweedfs.sh start && source .services/s3.env` first"
        if environment["CI"].map({ !$0.isEmpty && $0 != "0" && $0.lowercased() != "false" }) ?? false {
            // Thrown, not recorded: Swift Testing reports the thrown error as the test's one failure.
            throw MissingService(message: message + " (CI is set, so a missing server is a failure)")
        }
        try Test.cancel(Comment(rawValue: message), sourceLocation: sourceLocation)
    }

    /// The server from the environment, or nil when any variable is missing.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> TestS3? {
        guard let endpoint = environment["QUIVER_TEST_S3_ENDPOINT"], !endpoint.isEmpty,
              let bucket = environment["QUIVER_TEST_S3_BUCKET"], !bucket.isEmpty,
              let accessKey = environment["QUIVER_TEST_S3_ACCESS_KEY"], !accessKey.isEmpty,
              let secretKey = environment["QUIVER_TEST_S3_SECRET_KEY"], !secretKey.isEmpty
        else { return nil }
        let region = environment["QUIVER_TEST_S3_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        return TestS3(endpoint: endpoint, bucket: bucket, accessKey: accessKey, secretKey: secretKey, region: region)
    }

    /// The variables `S3Settings.fromEnvironment` reads, pointing at this server.
    public var awsEnvironment: [String: String] {
        ["AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_REGION": region,
         "AWS_ENDPOINT_URL_S3": endpoint]
    }

    /// Thrown after recording the issue when the server is missing under CI.
    public struct MissingService: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
