import Foundation
import LoRA
import Merge
import Provenance
import QuiverCore

/// The registry's use cases as the command line needs them, whoever runs them: ``Registry`` itself over the catalog
/// and the blob store (local mode), or `QuiverClient` over the HTTP API of `quiver serve` (remote mode). A command
/// resolves one and never knows which; both answer with the same record types (their Codable keys are the API's
/// JSON), throw named errors with the same codes and kinds, and so give the same output and exit statuses.
///
/// Versions are named by ``AdapterRef`` (a remote caller has no catalog ids). Every method blocks its thread
/// (libpq, libcurl): call them from the CLI's main thread or a blocking executor, never a cooperative thread.
public protocol RegistryService: Sendable {
    /// Where the registry is and who acts, for a narrating command (`quiver demo`'s first line).
    var summary: String { get }

    /// Whether ``register(validated:name:tags:baseRevision:)`` reads the adapter's files from this machine's disk
    /// into the blob store itself: then a lease on the weights taken before they are hashed spares the upload from
    /// reading them again (``Registry/validateForRegistration(directory:name:tags:holdingWeights:)``).
    var uploadsLocalFiles: Bool { get }

    /// Stores the two files of an adapter that ``Registry/validateForRegistration(directory:name:tags:)`` returned
    /// and records a `trained` version of `name`; identical content returns the existing version.
    func register(validated adapter: LoRAAdapter, name: String, tags: [String: String], baseRevision: String?) throws -> RegisterOutcome

    /// Versions matching every filter, by name then version; at most `limit`.
    func list(_ filter: VersionFilter, limit: Int) throws -> [AdapterVersion]

    /// The version a reference names, or `not_found`.
    func resolve(_ ref: AdapterRef) throws -> AdapterVersion

    /// One version with its modules, its adapter's aliases and its evaluations (`quiver show`).
    func show(_ ref: AdapterRef) throws -> VersionDetail

    /// Writes the version as a PEFT directory at `output` (which must not exist), every file verified against its
    /// digest, the directory appearing only when complete (`AtomicDirectory`); returns the version written.
    func pull(_ ref: AdapterRef, to output: URL) throws -> AdapterVersion

    /// Runs a merge now, or queues it (`queue`, or a remote server that queues large merges itself).
    func merge(_ request: MergeJobRequest, queue: Bool) throws -> MergeSubmission

    /// A merge job by id.
    func job(id: Int64) throws -> MergeJob

    /// The outcome of a succeeded job: its result version and merge. `not_found` when the job has not succeeded.
    func outcome(of job: MergeJob) throws -> MergeOutcome

    /// The ancestors (or descendants) of a version.
    func lineage(of ref: AdapterRef, direction: LineageGraph.Direction) throws -> LineageGraph

    /// What produced a version; `label` is what the report says it was asked (``Registry/auditTarget(_:)``).
    func audit(_ ref: AdapterRef, label: String) throws -> AuditReport

    /// Re-reads every blob on the version's lineage and re-runs every recorded merge.
    func verify(_ ref: AdapterRef) throws -> VerifyReport

    /// Points `name@alias` at version `version` (a protected alias: the promotion rule, or `force`, audited).
    func setAlias(name: String, alias: String, version: Int, force: Bool) throws -> AliasOutcome

    /// Records one evaluation of the version a reference names; returns that version.
    func recordEvaluation(_ ref: AdapterRef, _ evaluation: Evaluation) throws -> AdapterVersion

    /// The evaluations of a version, in recording order.
    func evaluations(of ref: AdapterRef) throws -> [Evaluation]

    /// The policy in force.
    func policy() throws -> RegistryPolicy

    /// Sets one policy key to a JSON value; returns the policy now in force.
    func setPolicy(key: String, json: String) throws -> RegistryPolicy

    /// Deletes unreferenced blobs and aborts unfinished uploads older than the grace period.
    func collectGarbage(graceSeconds: Int64, dryRun: Bool) throws -> GCReport

    /// Creates an API token; the secret is in the answer once.
    func createToken(name: String, scope: TokenScope, namePattern: String?, expiresInSeconds: Int64?) throws -> CreatedToken

    /// Every token, never a secret.
    func tokens() throws -> [TokenRecord]

    /// Revokes a token by name.
    func revokeToken(name: String) throws

    /// The version's signed provenance (``Registry/attestation(of:)-(AdapterVersion)``).
    func attestation(of ref: AdapterRef) throws -> DSSEEnvelope

    /// The registry's public signing key, PEM.
    func signingPublicKey() throws -> String

    /// The version checked for a serving engine and signed, ready to write (``Registry/publication(of:request:)``).
    func publication(of ref: AdapterRef, request: PublishRequest) throws -> Publication

    /// Writes a stored blob to `file`, verified against its digest.
    func fetchBlob(_ digest: SHA256Digest, size: Int64, to file: URL) throws

    /// Creates a webhook (a secret is generated when none is given); the secret is in the answer once.
    func createHook(url: String, events: [HookEvent], adapterPattern: String?, secret: String?) throws -> CreatedHook

    /// The active webhooks, never a secret.
    func hooks() throws -> [WebhookRecord]

    /// Removes a webhook by id; its unsent deliveries are cancelled.
    func removeHook(id: Int64) throws

    /// The newest webhook deliveries (of one hook, or all), each with its attempts.
    func hookDeliveries(hookID: Int64?, limit: Int) throws -> [HookDelivery]
}

extension RegistryService {
    /// Validates the PEFT directory (``Registry/validateForRegistration(directory:name:tags:)``), stores its two
    /// files and records a `trained` version of `name`; identical content returns the existing version.
    public func register(directory: URL, name: String, tags: [String: String] = [:], baseRevision: String? = nil) throws -> RegisterOutcome {
        let adapter = try Registry.validateForRegistration(directory: directory, name: name, tags: tags, holdingWeights: uploadsLocalFiles)
        return try register(validated: adapter, name: name, tags: tags, baseRevision: baseRevision)
    }

    /// `quiver publish`: the publication (checked and signed by the registry), written under `target` with the weights
    /// fetched from the registry (``PublicationWriter``).
    public func publish(_ ref: AdapterRef, request: PublishRequest, to target: PublishTarget,
                        environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PublishOutcome {
        let prepared = try self.publication(of: ref, request: request)
        guard let weights = prepared.file(LoRAAdapter.weightsFileName) else { throw RegistryError.internal("a publication without weights") }
        return try PublicationWriter.write(prepared, to: target, environment: environment) { url in
            try fetchBlob(weights.sha256, size: weights.size, to: url)
        }
    }
}

/// What asking for a merge did: merged (or found the same merge done before), or queued as a job.
public enum MergeSubmission: Sendable {
    case merged(MergeOutcome)
    case queued(MergeJob)
}

/// One version as `quiver show` prints it and `GET /v1/versions/{ref}` answers: the version, its modules, every
/// alias of its adapter (alias → version number) and its evaluations.
/// What never changes about a version: its record and its modules (the API's `GET /v1/versions/{ref}`, cacheable
/// forever for NAME@VERSION and digests). Aliases and evaluations change; they are resources of their own.
public struct VersionFacts: Sendable, Codable, Equatable {
    public let version: AdapterVersion
    public let modules: [RecordedModule]

    public init(version: AdapterVersion, modules: [RecordedModule]) {
        self.version = version
        self.modules = modules
    }
}

/// A version as `show` presents it: its facts, its adapter's current aliases and its evaluations.
public struct VersionDetail: Sendable, Codable, Equatable {
    public let version: AdapterVersion
    public let modules: [RecordedModule]
    public let aliases: [String: Int]
    public let evaluations: [Evaluation]

    public init(version: AdapterVersion, modules: [RecordedModule], aliases: [String: Int], evaluations: [Evaluation]) {
        self.version = version
        self.modules = modules
        self.aliases = aliases
        self.evaluations = evaluations
    }
}
