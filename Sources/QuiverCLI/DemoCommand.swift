import ArgumentParser
import Foundation
import LoRA
import Merge
import Provenance
import QuiverClient
import QuiverCore
import Registry

/// `quiver demo`: the whole story on generated example adapters, narrated.
public struct DemoCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate example skill adapters, register them, check interference, refuse an incompatible merge, merge with TIES, show lineage, audit and verify, then publish the production adapter and verify its signed provenance.",
        discussion: "With --server (or QUIVER_SERVER) the whole story runs through that server; promoting to the protected alias needs an admin token.")

    @OptionGroup var options: RegistryOptions
    @Option(help: "Where to write the generated adapters (default: $QUIVER_HOME/demo).") var workdir: String?

    public init() {}

    public func run() throws {
        try story()
    }

    private func step(_ title: String) { print("\n== \(title)") }

    /// The story through a ``RegistryService``: the local registry, or a server (`--server`), with the same output
    /// but for the first line (where the registry is).
    private func story() throws {
        let root = workdir.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? options.configuration.home.appendingPathComponent("demo", isDirectory: true)
        let service = try options.service()
        let progress = ProgressReporter.standardError()
        print("Quiver \(QuiverVersion.current) demo: \(service.summary)")

        step("1. Three small skill adapters (tone, json, domain: r=8 on \(DemoAdapters.baseModel)) and one legacy adapter (r=4)")
        let directories = try DemoAdapters.write(to: root.appendingPathComponent("adapters", isDirectory: true))
        func directory(_ name: String) throws -> URL {
            guard let url = directories[name] else { throw RegistryError(.internal, code: "demo.missing_adapter", reason: "the demo has no adapter named \(name)") }
            return url
        }
        for spec in DemoAdapters.specs {
            let outcome = try service.register(directory: try directory(spec.name), name: spec.name, tags: ["demo": "true", "skill": spec.name], baseRevision: nil)
            print("  \(outcome.existed ? "already registered" : "registered") \(outcome.version.summaryLine)")
        }

        step("2. Interference check before merging tone, json and domain")
        let skills = ["tone", "json", "domain"]
        let adapters = try skills.map { try LoRAAdapter.load(directory: try directory($0)) }
        let report = try InterferenceAnalyzer.analyze(inputs: try adapters.map(MergeEngine.descriptor(for:))) { index, path in
            try adapters[index].factors(path)
        }
        for pair in report.pairs {
            print("  \(skills[pair.first]) vs \(skills[pair.second]): cosine \(NumberFormat.fixed(pair.cosine, 2, sign: true)), "
                + "subspace overlap \(NumberFormat.fixed(pair.subspaceOverlap, 2))")
        }
        if let rate = report.signConflictRate { print("  sign conflicts after trimming to the top 20%: \(NumberFormat.fixed(rate * 100, 1))%") }
        print("  risk: \(report.risk.rawValue): \(report.verdict)")
        print("  tone and json pull in opposite directions: a plain average would cancel them; TIES elects a sign per entry.")

        step("3. The registry refuses an incompatible merge (tone r=8 with legacy r=4, TIES)")
        do {
            let refused = MergeJobRequest(inputs: ["tone", "legacy"], into: "assistant", request: MergeRequest(method: .ties, density: 0.5))
            _ = try MergeCompletion.outcome(of: try service.merge(refused, queue: false), service: service, progress: progress)
            print("  unexpected: the merge was accepted")
        } catch let error as any NamedError {
            print("  refused (\(error.code)): \(error.reason)")
            print("  the refusal is recorded in merge_refusals with the requester, and in the audit trail")
        }

        step("4. Merge tone + json + domain with TIES (density 0.5) into 'assistant'")
        let blend = MergeJobRequest(inputs: skills, into: "assistant", request: MergeRequest(method: .ties, weights: [0.4, 0.3, 0.3], density: 0.5))
        let merged = try MergeCompletion.outcome(of: try service.merge(blend, queue: false), service: service, progress: progress)
        let mergedRef = AdapterRef.version(name: merged.version.name, number: merged.version.version)
        print("  \(merged.existed ? "already merged (same request): " : "")\(merged.version.summaryLine)  merge #\(merged.mergeID)")

        step("5. Evaluate and promote to the protected alias 'production'")
        let evaluations: [(String, String, Double)] = [("tone", "style", 0.81), ("json", "json-valid", 0.93), ("domain", "qa", 0.71)]
        for (name, suite, value) in evaluations {
            _ = try service.recordEvaluation(.latest(name: name), Evaluation(suite: suite, metric: "acc", value: value, higherIsBetter: true))
        }
        for (_, suite, value) in evaluations {
            _ = try service.recordEvaluation(mergedRef, Evaluation(suite: suite, metric: "acc", value: value + 0.01, higherIsBetter: true))
        }
        let promoted = try service.setAlias(name: "assistant", alias: "production", version: merged.version.version, force: false)
        print("  assistant@production -> \(promoted.version.label): at least as good as every parent on the parent's suite")

        step("6. Lineage of assistant@production")
        let graph = try service.lineage(of: .alias(name: "assistant", alias: "production"), direction: .ancestors)
        print(try graph.render(.text).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        step("7. Audit from nothing but the merged file's sha256 (\(merged.version.weightsDigest.hex.prefix(16))…)")
        let audit = try service.audit(.digest(merged.version.weightsDigest), label: merged.version.weightsDigest.hex)
        print(AuditCommand.text(audit).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        step("8. Verify: re-read every blob and re-run the recorded merge")
        let verification = try service.verify(mergedRef)
        for check in verification.checks { print("  \(check.passed ? "ok  " : "FAIL") \(check.kind) \(check.subject): \(check.detail)") }
        if !verification.passed {
            print("\nVerification FAILED")
            throw ExitStatus.mismatch.exitCode
        }

        step("9. Publish assistant@production for vLLM (max LoRA rank 16): a directory named by its content, signed")
        let publishRoot = root.appendingPathComponent("published", isDirectory: true)
        let published = try service.publish(.alias(name: "assistant", alias: "production"), request: PublishRequest(), to: .directory(publishRoot))
        let shown = "published/\(published.directoryName)"
        print("  " + PublishCommand.line(published, shownAs: shown))
        print("  (paths are under the demo's working directory: --workdir, by default $QUIVER_HOME/demo)")
        for file in published.manifest.files { print("  \(file.name)  sha256:\(file.sha256)  \(file.size) bytes") }

        step("10. Verify its provenance: the signature, then every file re-hashed (quiver attest --verify \(shown)/\(Publication.provenanceFileName) --dir \(shown))")
        let directory = publishRoot.appendingPathComponent(published.directoryName, isDirectory: true)
        let provenanceFile = directory.appendingPathComponent(Publication.provenanceFileName)
        let envelope = try DSSEEnvelope.parse(try RegularFile.read(provenanceFile.path, limit: 16 << 20), what: provenanceFile.path)
        let check = try AttestationVerifier.verify(envelope, key: try PublicKey(pem: try service.signingPublicKey()), directory: directory)
        for line in AttestCommand.lines(check, showKey: false) { print("  " + line) }
        print("  statement: \(check.predicateType) (the merge recipe, the parents' files, the base model, who asked and when)")
        print("  OpenSSF model signing checks the same directory: model_signing verify key \(shown) --signature \(shown)/model.sig --public_key KEY.pem")
        print("  (KEY.pem from 'quiver key public')")
        print("\nThe story checks out: \(merged.version.label) is exactly what its recorded inputs and recipe produce, "
            + "and \(shown) is exactly what its signed provenance names.")
    }
}
