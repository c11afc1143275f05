import ArgumentParser
import Foundation
import ObjectStore
import Registry

/// `quiver alias set NAME ALIAS VERSION [--force]`.
public struct AliasCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "alias", abstract: "Move aliases (history kept).", subcommands: [Set.self])
    public init() {}

    public struct Set: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Point NAME@ALIAS at VERSION. Protected aliases need evaluations at least as good as the parents' (or --force, audited).")
        @OptionGroup var options: RegistryOptions
        @Flag(help: "Override the promotion rule (recorded in the audit trail).") var force = false
        @Argument(help: "Adapter name.") var name: String
        @Argument(help: "Alias.") var alias: String
        @Argument(help: "Version number.") var version: Int
        public init() {}

        public func run() throws {
            try reportingErrors {
                let outcome = try options.open().setAlias(name: name, alias: alias, version: version, force: force)
                var line = "\(name)@\(alias) -> \(outcome.version.label)"
                if let previous = outcome.previousVersion { line += " (was \(name)@\(previous))" }
                if outcome.forced { line += "; FORCED over: " + outcome.overridden.joined(separator: "; ") }
                print(line)
            }
        }
    }
}

/// `quiver eval record REF --suite S --metric M --value X [--lower-is-better]`.
public struct EvalCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "eval", abstract: "Record evaluation results.", subcommands: [Record.self])
    public init() {}

    public struct Record: ParsableCommand {
        public static let configuration = CommandConfiguration(abstract: "Record one evaluation result of a version.")
        @OptionGroup var options: RegistryOptions
        @Option(help: "Evaluation suite.") var suite: String
        @Option(help: "Metric name.") var metric: String
        @Option(help: "Value.") var value: Double
        @Flag(name: .customLong("lower-is-better"), help: "Lower values are better (e.g. loss).") var lowerIsBetter = false
        @Argument(help: "The reference.") var ref: String
        public init() {}

        public func run() throws {
            try reportingErrors {
                let registry = try options.open()
                let version = try registry.resolve(ref)
                try registry.recordEvaluation(version, Evaluation(suite: suite, metric: metric, value: value, higherIsBetter: !lowerIsBetter))
                print("recorded \(suite)/\(metric) = \(value) for \(version.label)")
            }
        }
    }
}

/// `quiver policy set KEY JSON` / `quiver policy show`.
public struct PolicyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "policy", abstract: "The registry's merge and promotion policy.", subcommands: [Show.self, Set.self])
    public init() {}

    public struct Show: ParsableCommand {
        public static let configuration = CommandConfiguration(abstract: "Print the policy in force.")
        @OptionGroup var options: RegistryOptions
        public init() {}
        public func run() throws { try reportingErrors { try printJSON(try options.open().policy()) } }
    }

    public struct Set: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Set a policy key: allow_scaling_fold, max_merged_rank, allowed_methods, protected_aliases.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "Key.") var key: String
        @Argument(help: "JSON value, e.g. 64 or '[\"ties\"]'.") var json: String
        public init() {}
        public func run() throws { try reportingErrors { try printJSON(try options.open().setPolicy(key: key, json: json)) } }
    }
}

/// `quiver gc [--grace 24h] [--dry-run]`.
public struct GCCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "gc", abstract: "Delete blobs no version references and abort unfinished uploads, older than the grace period.")
    @OptionGroup var options: RegistryOptions
    @Option(help: "Keep unreferenced blobs younger than this (e.g. 24h, 30m).") var grace = "24h"
    @Flag(name: .customLong("dry-run"), help: "Only list what would be deleted.") var dryRun = false
    public init() {}

    public func run() throws {
        try reportingErrors {
            let report = try options.open().collectGarbage(graceSeconds: try GraceDuration.seconds(grace), dryRun: dryRun)
            for digest in report.deleted { print("\(dryRun ? "would delete" : "deleted") sha256/\(digest)") }
            print("\(report.deleted.count) blob(s), \(report.deletedBytes) bytes \(dryRun ? "would be " : "")removed; \(report.keptYoung) unreferenced blob(s) younger than \(grace) kept; \(report.referenced) referenced")
            for upload in report.abortedUploads {
                let id = upload.uploadID == upload.key ? "" : " (upload \(upload.uploadID))"
                print("\(dryRun ? "would abort" : "aborted") unfinished upload \(upload.key)\(id), started \(upload.started.ISO8601Format())")
            }
            print("\(report.abortedUploads.count) unfinished upload(s) \(dryRun ? "would be " : "")aborted; \(report.keptYoungUploads) younger than \(grace) kept")
        }
    }
}
