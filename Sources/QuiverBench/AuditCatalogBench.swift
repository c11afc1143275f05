import ArgumentParser
import Catalog
import Foundation
import ObjectStore
import Postgres
import QuiverCore
import Registry

/// `quiver-bench audit-catalog`: fills a scratch catalog with synthetic versions and lineage (SQL
/// `generate_series`, no blobs), then times `Registry.audit` of a version at the end of a deep merge chain.
struct AuditCatalog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-catalog",
        abstract: "Time 'audit' on a deep lineage inside a large synthetic catalog (the database must be empty and disposable).")

    @Option(name: .customLong("database-url"), help: "An empty scratch database (filled with synthetic rows), or one this command seeded before.") var databaseURL: String
    @Option(help: "Versions in the catalog (a multiple of 100).") var versions = 100_000
    @Option(help: "Timed runs of each operation (lineage --down: a tenth).") var runs = 200
    @Option(help: "Descendants of fan@1, the lineage --down benchmark's version.") var fanDescendants = 10_000
    @Option(help: "How to seed: 'sql' (set-based INSERT … SELECT generate_series, for 100k–1M versions) or 'stores' (the registry's row-at-a-time write path).")
    var seeder = "sql"
    @Option(help: "Time only the operations whose label starts with this (for profiling one of them).") var only: String?
    @Flag(help: "Also print each operation's deciles (p10 … p90), to see the spread below the p99.") var deciles = false

    func run() throws {
        let catalog = try Catalog.open(url: databaseURL, maxConnections: 2)
        let blobs = try LocalBlobStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("audit-bench-blobs"))
        let registry = Registry(pool: catalog.pool, blobs: blobs, actor: "bench")
        let groups = max(1, versions / 100)
        let seedStart = Date()
        let existing = try catalog.read { try $0.versions.list(VersionFilter(), limit: 1).count }
        if existing == 0 {
            if seeder == "stores" {
                try seed(catalog, groups: groups)
            } else {
                var first = 1
                while first <= groups {
                    let last = min(groups, first + 999)
                    try catalog.transaction { try $0.synthetic.seed(groups: first, through: last) }
                    first = last + 1
                }
                try catalog.pool.query("ANALYZE")
            }
        }
        let seconds = Date().timeIntervalSince(seedStart)
        print(existing > 0 ? "reusing the seeded catalog" : "seeded \(groups * 100) versions (\(groups * 50) merges, \(groups * 100) lineage edges) \(seeder == "stores" ? "through the catalog's stores" : "by set-based SQL") in \(String(format: "%.1f", seconds)) s (\(Int(Double(groups * 100) / max(seconds, 1e-9))) versions/s)")

        if try catalog.read({ try $0.versions.adapterID(name: "fan") }) == nil {
            let fanStart = Date()
            try catalog.transaction { try $0.synthetic.seedFan(name: "fan", descendants: fanDescendants) }
            try catalog.pool.query("ANALYZE")
            print("seeded adapter fan: version 1 and \(fanDescendants) merged descendants in \(String(format: "%.1f", Date().timeIntervalSince(fanStart))) s")
        }
        // Vacuumed before timing: otherwise autovacuum wakes on the freshly written tables (a million rows) and
        // shares the machine's two cores with the timed runs.
        let vacuumStart = Date()
        try catalog.pool.query("VACUUM (ANALYZE)")
        print("vacuumed in \(String(format: "%.1f", Date().timeIntervalSince(vacuumStart))) s")
        // What seeding and vacuuming left dirty is written now, by a checkpoint and then the kernel (sync), not by
        // PostgreSQL's checkpointer and the kernel's writeback threads during the timed runs (gigabytes at 1M).
        let flushStart = Date()
        do {
            try catalog.pool.query("CHECKPOINT")
            sync()
            print("checkpoint and sync in \(String(format: "%.1f", Date().timeIntervalSince(flushStart))) s")
        } catch {
            print("no checkpoint before the timed runs (\(error)); the checkpointer may write during them")
        }

        // The last version of the middle group: 50 merges deep, 100 versions in its lineage.
        let target = try registry.resolve(.version(name: "adapter-\(groups / 2 + 1)", number: 100))
        let digest = target.weightsDigest.hex
        let check = try registry.audit(digest)
        print("audit of \(check.subject.label) by weights sha256: depth \(check.lineage.nodes.map(\.depth).max() ?? 0), \(check.lineage.nodes.count) versions, \(check.roots.count) roots, \(check.merges.count) merges, \(check.aliasHistory.count) alias moves")
        // The statement's row, read once: its size here, its decoding timed below.
        let auditRow = try catalog.pool.query(LineageStore.auditQuery(.digest(target.weightsDigest))).single()
        let sizes = try (0..<auditRow.columns.count).map { try auditRow.cell(at: $0).withUTF8 { $0.count } ?? 0 }
        print("audit statement's row: \(sizes.reduce(0, +)) bytes of text (by column: \(sizes.map(String.init).joined(separator: ", ")))")
        let filter = VersionFilter(baseModel: "bench/base", rank: 16, tags: ["team": "team-7"], kind: .merged)
        let listed = try registry.list(filter, limit: 50)
        let fan = try registry.lineage(of: .version(name: "fan", number: 1), direction: .descendants)
        print("list (base model, rank, tag, kind; limit 50): \(listed.count) versions; lineage --down of fan@1: \(fan.nodes.count) versions, \(fan.edges.count) edges, depth \(fan.nodes.map(\.depth).max() ?? 0)")

        // Replies awaited as the CLI awaits them (polling for a while, then asleep); the audit is also timed as
        // `quiver serve` waits, asleep at once.
        ReplyWait.spin(upTo: ReplyWait.oneShotCommandLimit)
        print("\nin process, one pooled connection, statements prepared once per connection, replies awaited as the CLI awaits them (polled for up to \(ReplyWait.spinLimit), then asleep); \(runs) timed runs after 5 warm-up runs (ms):")
        print("| operation | p50 | p99 | min | max |")
        print("|---|---:|---:|---:|---:|")
        let machineBefore = MachineTimes.read()
        try time("audit <weights sha256> (depth 50)") { _ = try registry.audit(digest) }
        ReplyWait.spin(upTo: .zero)
        try time("  the same, replies awaited asleep (as quiver serve waits)") { _ = try registry.audit(digest) }
        ReplyWait.spin(upTo: ReplyWait.oneShotCommandLimit)
        // The statement alone (sent, executed, its text received; nothing decoded); then the long way, which an
        // audit takes only when the stored lineage parts are incomplete: the reference resolved, then a recursive
        // walk of the lineage edges with everything read along it (the audit before migration 0008).
        try time("  of which: the audit statement, undecoded") { _ = try catalog.pool.query(LineageStore.auditQuery(.digest(target.weightsDigest))) }
        try time("  of which: its row decoded (no round trip)") { _ = try LineageStore.decodeStoredAudit(auditRow) }
        try time("the long way: resolve, then walk the edges (decoded)") {
            _ = try catalog.read { session in try session.lineage.audit(subjectID: try session.versions.matching(digest: target.weightsDigest)[0].id) }
        }
        try time("show NAME@VERSION") { _ = try registry.show(.version(name: target.name, number: 100)) }
        try time("list --base-model --rank --tag --kind --limit 50") { _ = try registry.list(filter, limit: 50) }
        try time("lineage NAME@VERSION (ancestors, depth 50)") { _ = try registry.lineage(of: .version(name: target.name, number: 100), direction: .ancestors) }
        try time("lineage --down fan@1 (\(fan.nodes.count - 1) descendants)", runs: max(10, runs / 10)) {
            _ = try registry.lineage(of: .version(name: "fan", number: 1), direction: .descendants)
        }
        if let before = machineBefore, let after = MachineTimes.read() {
            // What else the machine did meanwhile: time stolen by the hypervisor is time neither process ran.
            print("\n" + after.since(before).summary)
        }
        // How PostgreSQL planned the prepared statements on this connection: a custom plan is a fresh plan per
        // execution (its planning time paid every time), a generic plan is made once and reused.
        let plans = try catalog.pool.query("SELECT generic_plans, custom_plans, right(regexp_replace(statement, '\\s+', ' ', 'g'), 160) FROM pg_prepared_statements ORDER BY generic_plans + custom_plans DESC LIMIT 8")
        print("\nprepared statements on this connection (generic plans, custom plans, the statement's last 160 characters):")
        for row in plans { print("  \(try row.decode(Int.self, at: 0)) \(try row.decode(Int.self, at: 1)) \(try row.decode(String.self, at: 2))") }

        for (title, query) in [("audit", LineageStore.auditQuery(.digest(target.weightsDigest))),
                               ("lineage --down", LineageStore.partsGraphQuery(start: fan.start, direction: .descendants))] {
            var explain: SQLQuery = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
            explain.append(query)
            print("\nEXPLAIN ANALYZE of the \(title) statement:")
            for row in try catalog.pool.query(explain) { print("  " + (try row.decode(String.self, at: 0))) }
        }
    }

    private func time(_ label: String, runs: Int? = nil, _ body: () throws -> Void) throws {
        if let only, !label.hasPrefix(only) { return }
        let count = runs ?? self.runs
        for _ in 0..<5 { try body() }
        var times: [Double] = []
        for _ in 0..<count {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        func percentile(_ p: Double) -> Double { times[min(times.count - 1, Int((p * Double(times.count)).rounded(.up)) - 1)] }
        print(String(format: "| %@ | %.2f | %.2f | %.2f | %.2f |", label, percentile(0.5), percentile(0.99), times[0], times[times.count - 1]))
        if deciles {
            print("  deciles: " + (1...9).map { String(format: "%.2f", percentile(Double($0) / 10)) }.joined(separator: " "))
        }
    }

    /// Groups of 100 versions of one adapter each, written through the catalog's stores (the registry's own write
    /// path, without blobs): versions 1–50 trained, 51–100 merged; merged position p (0-based) has parents p−1
    /// (position 0 for p = 50) and the trained position (p − 49) mod 50, so version 100 is 50 merges deep.
    private func seed(_ catalog: Catalog, groups: Int) throws {
        let config = SHA256Digest.of(Array("config".utf8))
        for group in 1...groups {
            try catalog.transaction { tx in
                var ids: [Int64] = []
                try tx.blobs.record(config, size: 700)
                for position in 0..<100 {
                    let key = "\(group)-\(position)"
                    let merged = position >= 50
                    let weights = SHA256Digest.of(Array("w\(key)".utf8))
                    try tx.blobs.record(weights, size: 1_000_000)
                    let version = try tx.versions.insert(NewVersion(
                        name: "adapter-\(group)", kind: merged ? .merged : .trained, peftType: "LORA", baseModel: "bench/base",
                        baseRevision: "", rank: 16, loraAlpha: 32, useRslora: false, useDora: false, targetModules: ["q_proj", "v_proj"],
                        config: #"{"r": 16, "lora_alpha": 32, "peft_type": "LORA"}"#,
                        canonicalDigest: SHA256Digest.of(Array("c\(key)".utf8)), configDigest: config, configSize: 700,
                        weightsDigest: weights, weightsSize: 1_000_000, tags: [:], modules: [],
                        createdBy: "bench"))
                    ids.append(version.id)
                    guard merged else { continue }
                    let parents = [position == 50 ? 0 : position - 1, (position - 49) % 50]
                    _ = try tx.merges.record(NewMerge(
                        method: "ties", params: #"{"method": "ties", "density": 0.5, "weights": [0.5, 0.5]}"#, seed: 0,
                        softwareVersion: "0.1.0",
                        inputs: parents.map { (versionID: ids[$0], canonicalDigest: SHA256Digest.of(Array("c\(group)-\($0)".utf8)), weight: 0.5) },
                        outputVersionID: version.id, requestDigest: SHA256Digest.of(Array("r\(key)".utf8)), requestedBy: "bench"))
                }
            }
        }
        try catalog.pool.query("ANALYZE")
    }
}

/// The machine's CPU time by kind, from the first line of `/proc/stat` (Linux; nil elsewhere), in clock ticks.
struct MachineTimes {
    var busy = 0, idle = 0, steal = 0

    static func read() -> MachineTimes? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user).
        let fields = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard fields.count >= 8 else { return nil }
        return MachineTimes(busy: fields[0] + fields[1] + fields[2] + fields[5] + fields[6], idle: fields[3] + fields[4], steal: fields[7])
    }

    func since(_ start: MachineTimes) -> MachineTimes {
        MachineTimes(busy: busy - start.busy, idle: idle - start.idle, steal: steal - start.steal)
    }

    /// One line for the report: the share of all cores' time that was busy, idle and stolen.
    var summary: String {
        let total = max(1, busy + idle + steal)
        func percent(_ part: Int) -> String { String(format: "%.1f %%", 100 * Double(part) / Double(total)) }
        return "machine during the timed runs (all cores, /proc/stat): busy \(percent(busy)), idle \(percent(idle)), stolen by the hypervisor \(percent(steal))"
    }
}
