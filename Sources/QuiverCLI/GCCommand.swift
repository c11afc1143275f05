import ArgumentParser
import Registry

/// `quiver gc [--grace 24h] [--dry-run]`.
public struct GCCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "gc", abstract: "Delete blobs no version references and abort unfinished uploads, older than the grace period.")
    @OptionGroup var options: RegistryOptions
    @Option(help: "Keep unreferenced blobs younger than this (e.g. 24h, 30m).") var grace = "24h"
    @Flag(name: .customLong("dry-run"), help: "Only list what would be deleted.") var dryRun = false
    public init() {}

    public func validate() throws {
        _ = try OptionParsing.seconds(grace)
    }

    public func run() throws {
        let graceSeconds = try OptionParsing.seconds(grace)
        let report = try options.service().collectGarbage(graceSeconds: graceSeconds, dryRun: dryRun)
        for digest in report.deleted { print("\(dryRun ? "would delete" : "deleted") sha256/\(digest)") }
        print("\(report.deleted.count) blob(s), \(report.deletedBytes) bytes \(dryRun ? "would be " : "")removed; \(report.keptYoung) unreferenced blob(s) younger than \(grace) kept; \(report.referenced) referenced")
        for upload in report.abortedUploads {
            let id = upload.uploadID == upload.key ? "" : " (upload \(upload.uploadID))"
            print("\(dryRun ? "would abort" : "aborted") unfinished upload \(upload.key)\(id), started \(upload.started.ISO8601Format())")
        }
        print("\(report.abortedUploads.count) unfinished upload(s) \(dryRun ? "would be " : "")aborted; \(report.keptYoungUploads) younger than \(grace) kept")
        if report.abandonedScratchDirectories > 0 {
            print("removed \(report.abandonedScratchDirectories) scratch director(ies) of killed quiver processes")
        }
    }
}
