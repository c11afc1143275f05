import QuiverCore
import Registry

/// Prints `value` as JSON (``JSONOutput``: pretty, sorted keys, ISO 8601 dates) on stdout.
func printJSON(_ value: some Encodable) throws {
    print(try JSONOutput.string(value))
}

extension AdapterVersion {
    /// One line for listings.
    var summaryLine: String {
        let base = baseModel.isEmpty ? "?" : baseModel
        let tagText = tags.isEmpty ? "" : "  " + tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return TerminalText.escape(
            "\(label)  \(kind)  r=\(rank) alpha=\(NumberFormat.compact(loraAlpha))  base=\(base)  modules=\(targetModules.joined(separator: ","))  sha256:\(canonicalDigest.hex.prefix(12))\(tagText)")
    }
}
