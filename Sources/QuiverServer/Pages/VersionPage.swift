import Foundation
import QuiverCore
import Registry

/// `GET /ui/versions/{ref}`: one version, its lineage as a picture, the merge recipes, evaluations, alias history,
/// provenance status, and links to its parents and children.
enum VersionPage {
    static func page(_ overview: VersionOverview, signedInAs: String, verification: VerifyReport? = nil) -> Page {
        let version = overview.version
        let t = Page.text
        var out = "<h1>\(t(version.label)) <span class=\"badge \(version.kind.rawValue)\">\(version.kind.rawValue)</span>"
        for (alias, number) in overview.detail.aliases.sorted(by: { $0.key < $1.key }) where number == version.version {
            out += " <span class=\"badge alias\">@\(t(alias))</span>"
        }
        out += "</h1>\n"
        out += facts(version)

        // Lineage: ancestors and descendants in one picture, this version highlighted, every box a link.
        let graph = overview.graph
        let svg = LineageSVG(maxNodes: 60, title: "Lineage of \(version.label)") { Page.versionPath($0.label) }
            .render(nodes: graph.nodes, edges: graph.edges, start: version.id)
        out += "<h2 id=\"lineage\">Lineage</h2>\n<div class=\"graph\">\(svg)</div>\n"
        out += "<p class=\"legend\">Trained adapters are rounded and green, merged ones square and blue; this version has an orange border. "
        out += "Arrows go from parent to child, labelled with the merge method and the parent's weight. Each box links to its page.</p>\n"

        out += "<h2 id=\"parents\">Parents</h2>\n"
        out += relatives(overview.parents, empty: "None: a trained adapter, registered from a PEFT directory.")
        out += "<h2 id=\"children\">Children</h2>\n"
        out += relatives(overview.children, empty: "None: nothing has been merged from this version yet.")

        out += "<h2 id=\"recipes\">Merge recipes</h2>\n"
        if overview.merges.isEmpty {
            out += "<p class=\"muted\">No merge produced this version or any of its ancestors.</p>\n"
        } else {
            // This version's own merge first, then its ancestors', newest first.
            let ordered = overview.merges.sorted { a, b in
                let ka = a.output == version.label ? 0 : 1, kb = b.output == version.label ? 0 : 1
                return ka != kb ? ka < kb : a.id > b.id
            }
            for (index, merge) in ordered.enumerated() { out += recipe(merge, open: index == 0) }
        }

        out += "<h2 id=\"evaluations\">Evaluations</h2>\n"
        if overview.detail.evaluations.isEmpty {
            out += "<p class=\"muted\">None recorded (<code>quiver eval record</code>).</p>\n"
        } else {
            out += "<table><tr><th>suite</th><th>metric</th><th>value</th><th>better</th></tr>"
            for evaluation in overview.detail.evaluations {
                out += "<tr><td>\(t(evaluation.suite))</td><td>\(t(evaluation.metric))</td><td>\(t(NumberFormat.compact(evaluation.value)))</td>"
                out += "<td>\(evaluation.higherIsBetter ? "higher" : "lower")</td></tr>"
            }
            out += "</table>\n"
        }

        out += "<h2 id=\"aliases\">Alias history</h2>\n"
        if overview.aliasHistory.isEmpty {
            out += "<p class=\"muted\">No alias of this adapter or its lineage has moved.</p>\n"
        } else {
            out += "<table><tr><th>when</th><th>alias</th><th>from</th><th>to</th><th>by</th></tr>"
            for event in overview.aliasHistory {
                out += "<tr><td>\(t(timestamp(event.at)))</td><td>\(t(event.adapter))@\(t(event.alias))\(event.forced ? " <span class=\"badge alias\">forced</span>" : "")</td>"
                out += "<td>\(event.previous.map { Page.link(Page.versionPath($0), $0) } ?? "<span class=\"muted\">—</span>")</td>"
                out += "<td>\(Page.link(Page.versionPath(event.version), event.version))</td><td>\(t(event.setBy))</td></tr>"
            }
            out += "</table>\n"
        }

        out += "<h2 id=\"provenance\">Provenance</h2>\n"
        let provenance = overview.provenance
        out += "<div class=\"status \(provenance.state.rawValue)\"><strong>\(t(provenance.state.rawValue))</strong>: \(t(provenance.summary))"
        if !provenance.details.isEmpty {
            out += "<ul>" + provenance.details.map { "<li>\(t($0))</li>" }.joined() + "</ul>"
        }
        out += "</div>\n"
        out += verificationSection(version, verification)

        out += "<h2 id=\"modules\">Modules</h2>\n<details><summary>\(overview.detail.modules.count) adapted modules</summary>"
        out += "<table><tr><th>module</th><th>rank</th><th>alpha</th><th>scaling</th><th>shape</th><th>dtype</th></tr>"
        for module in overview.detail.modules {
            out += "<tr><td><code>\(t(module.path))</code></td><td>\(module.rank)</td><td>\(t(NumberFormat.compact(module.alpha)))</td>"
            out += "<td>\(t(NumberFormat.compact(module.scaling)))</td><td>\(module.inFeatures)→\(module.outFeatures)</td><td>\(t(module.dtype))</td></tr>"
        }
        out += "</table></details>\n"
        return Page(title: version.label, body: out, signedInAs: signedInAs)
    }

    private static func facts(_ version: AdapterVersion) -> String {
        let t = Page.text
        var rows: [(String, String)] = [
            ("base model", "<code>\(t(version.baseModel))</code>" + (version.baseRevision.isEmpty ? "" : " @ <code>\(t(version.baseRevision))</code>")),
            ("rank / alpha", "r \(version.rank), alpha \(t(NumberFormat.compact(version.loraAlpha)))" + (version.useRslora ? ", rsLoRA" : "") + (version.useDora ? ", DoRA" : "")),
            ("target modules", version.targetModules.map { "<code>\(t($0))</code>" }.joined(separator: ", ")),
            ("canonical digest", "<code>sha256:\(version.canonicalDigest.hex)</code>"),
            ("files", "<code>adapter_config.json</code> \(version.configSize) B, sha256 <code>\(version.configDigest.hex)</code><br>"
                + "<code>adapter_model.safetensors</code> \(version.weightsSize) B, sha256 <code>\(version.weightsDigest.hex)</code>"),
            ("created", "\(t(timestamp(version.createdAt))) by \(t(version.createdBy))"),
        ]
        if !version.tags.isEmpty {
            rows.append(("tags", version.tags.sorted { $0.key < $1.key }.map { "<code>\(t($0.key))=\(t($0.value))</code>" }.joined(separator: " ")))
        }
        return "<dl class=\"facts\">" + rows.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" }.joined() + "</dl>\n"
    }

    private static func relatives(_ list: [(node: LineageNode, edge: LineageEdge)], empty: String) -> String {
        guard !list.isEmpty else { return "<p class=\"muted\">\(Page.text(empty))</p>\n" }
        let t = Page.text
        var out = "<ul class=\"links\">"
        for (node, edge) in list.sorted(by: { ($0.node.name, $0.node.version, $0.edge.mergeID) < ($1.node.name, $1.node.version, $1.edge.mergeID) }).prefix(500) {
            out += "<li>\(Page.link(Page.versionPath(node.label), node.label)) <span class=\"badge \(node.kind.rawValue)\">\(node.kind.rawValue)</span>"
            out += " <span class=\"muted\">weight \(t(NumberFormat.compact(edge.weight))) via \(t(edge.method)) (merge #\(edge.mergeID))</span></li>"
        }
        if list.count > 500 { out += "<li class=\"muted\">… and \(list.count - 500) more</li>" }
        return out + "</ul>\n"
    }

    private static func recipe(_ merge: MergeRecord, open: Bool) -> String {
        let t = Page.text
        var out = "<div class=\"recipe\" id=\"merge-\(merge.id)\"><h3>merge #\(merge.id): \(Page.link(Page.versionPath(merge.output), merge.output)) = \(t(merge.method))</h3>"
        out += "<table><tr><th>input</th><th>weight</th><th>canonical digest</th></tr>"
        for (index, input) in merge.inputs.enumerated() {
            let weight = index < merge.weights.count ? NumberFormat.compact(merge.weights[index]) : "?"
            let digest = index < merge.inputDigests.count ? merge.inputDigests[index] : ""
            out += "<tr><td>\(Page.link(Page.versionPath(input), input))</td><td>\(t(weight))</td><td><code>\(t(digest))</code></td></tr>"
        }
        out += "</table>"
        out += "<dl class=\"facts\"><dt>seed</dt><dd>\(merge.seed.map { String($0) } ?? "—")</dd>"
        out += "<dt>software</dt><dd><code>\(t(merge.softwareVersion))</code></dd>"
        out += "<dt>requested</dt><dd>\(t(timestamp(merge.at))) by \(t(merge.requestedBy))</dd></dl>"
        out += "<details\(open ? " open" : "")><summary>every parameter</summary>\(parameters(merge.params))</details></div>\n"
        return out
    }

    /// The recorded request's parameters as a table (key → JSON value), or the JSON text if it is not an object.
    private static func parameters(_ json: String) -> String {
        let t = Page.text
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) as? [String: Any] else {
            return "<pre class=\"mono\">\(t(json))</pre>"
        }
        var out = "<table><tr><th>parameter</th><th>value</th></tr>"
        for key in object.keys.sorted() {
            let value = object[key]!
            let text: String
            if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) {
                text = String(decoding: data, as: UTF8.self)
            } else {
                text = "\(value)"
            }
            out += "<tr><td><code>\(t(key))</code></td><td><code>\(t(text))</code></td></tr>"
        }
        return out + "</table>"
    }

    private static func verificationSection(_ version: AdapterVersion, _ report: VerifyReport?) -> String {
        let t = Page.text
        var out = "<h2 id=\"verify\">Verification</h2>\n"
        if let report {
            out += "<div class=\"status \(report.passed ? "verified" : "failed")\"><strong>\(report.passed ? "passed" : "FAILED")</strong>: "
            out += "\(report.checks.count) checks (every blob on the lineage re-read, every recorded merge re-run)</div>"
            out += "<table><tr><th>check</th><th>subject</th><th>result</th><th>detail</th></tr>"
            for check in report.checks {
                out += "<tr><td>\(t(check.kind))</td><td>\(t(check.subject))</td><td>\(check.passed ? "ok" : "<strong>mismatch</strong>")</td><td>\(t(check.detail))</td></tr>"
            }
            out += "</table>\n"
        } else {
            out += "<form method=\"post\" action=\"\(Page.text(Page.versionPath(version.label)))/verify\">"
            out += "<p class=\"muted\">Re-read every blob on the lineage and re-run every recorded merge, comparing digests (<code>quiver verify</code>). "
            out += "This may take a while for large adapters. <button type=\"submit\">Verify now</button></p></form>\n"
        }
        return out
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
