import Foundation

/// Just enough XML for S3's replies (errors, listings, multipart): the text of named elements.
///
/// S3 answers are flat, namespace-default documents without CDATA or attributes we need, so a scanner is
/// enough and avoids FoundationXML (which pulls libxml2 into every binary).
enum XMLScan {
    /// The inner text of every `<tag>…</tag>` in `xml`, in document order, entities decoded.
    static func values(_ tag: String, in xml: Substring) -> [String] {
        elements(tag, in: xml).map { decode($0) }
    }

    /// The first `<tag>` value, if any.
    static func value(_ tag: String, in xml: Substring) -> String? {
        values(tag, in: xml).first
    }

    /// The raw inner content of every `<tag>…</tag>` (tags with attributes included).
    static func elements(_ tag: String, in xml: Substring) -> [Substring] {
        var found: [Substring] = []
        var rest = xml
        let close = "</\(tag)>"
        while let open = rest.range(of: "<\(tag)") {
            guard let end = rest[open.upperBound...].firstIndex(of: ">") else { break }
            let nameEnd = rest[open.upperBound]
            // `<Key>` must not match `<KeyCount>`: the name has to end right here.
            guard nameEnd == ">" || nameEnd == " " || nameEnd == "/" else {
                rest = rest[open.upperBound...]
                continue
            }
            if rest[rest.index(before: end)] == "/" {  // `<tag/>`: empty
                found.append(rest[end..<end])
                rest = rest[rest.index(after: end)...]
                continue
            }
            let contentStart = rest.index(after: end)
            guard let closing = rest[contentStart...].range(of: close) else { break }
            found.append(rest[contentStart..<closing.lowerBound])
            rest = rest[closing.upperBound...]
        }
        return found
    }

    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        return String(text)
            .replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&#34;", with: "\"")
            .replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Escapes text for an element body (our CompleteMultipartUpload ETags).
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
