import Foundation
import HTTPTypes
import Hummingbird
import QuiverCore

/// One server-rendered HTML page of the read-only UI (`/ui`): no script, one stylesheet whose hash the
/// Content-Security-Policy names, and every dynamic string escaped (``Page/text(_:)``).
struct Page {
    let title: String
    var body: String
    /// The signed-in token's name, shown with a sign-out button; nil on the sign-in page.
    var signedInAs: String?
    var status: HTTPResponse.Status = .ok

    /// Escaped element content or attribute value.
    static func text(_ value: String) -> String { MarkupText.escape(value) }

    /// `/ui/versions/NAME@VERSION`, the reference percent-encoded as one path segment (a name's `/` is `%2F`).
    static func versionPath(_ label: String) -> String { "/ui/versions/" + Handlers.pathSegment(label) }

    /// An escaped link.
    static func link(_ href: String, _ label: String) -> String { "<a href=\"\(text(href))\">\(text(label))</a>" }

    var html: String {
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="same-origin"><title>\(Self.text(title)) · Quiver</title>
            <style>\(Self.stylesheet)</style></head>
            <body><header><a class="brand" href="/ui">Quiver</a><nav><a href="/ui">Adapters</a></nav>
            """
        if let signedInAs {
            out += """
                <form class="signout" method="post" action="/ui/session/end"><span>signed in as \(Self.text(signedInAs))</span> \
                <button type="submit">Sign out</button></form>
                """
        }
        out += "</header>\n<main>\n\(body)\n</main></body></html>\n"
        return out
    }

    func response(headers extra: HTTPFields = [:]) -> Response {
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        for field in extra { headers.append(field) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// What every page is sent with: nothing but the stylesheet (by hash) and same-origin forms may run or load;
    /// no sniffing, no framing, no caching, and no referrer to other sites (a page's URL names adapters); within
    /// the site it is sent, since with `no-referrer` a browser sends `Origin: null` on a form POST, which
    /// ``Call/requireSameOrigin()`` refuses.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    static let contentSecurityPolicy =
        "default-src 'none'; style-src '\(styleHash)'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// `sha256-<base64>` of ``stylesheet``, as CSP names an inline `<style>`.
    static let styleHash: String = {
        let hex = SHA256Digest.of(Array(stylesheet.utf8)).hex
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return "sha256-" + Data(bytes).base64EncodedString()
    }()

    static let stylesheet = """
        :root{color-scheme:light;--ink:#111827;--muted:#4b5563;--line:#e5e7eb;--accent:#3b5ba5;--bg:#f9fafb}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 "DejaVu Sans",Verdana,system-ui,sans-serif;color:var(--ink);background:var(--bg)}
        header{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#1f2937;color:#f9fafb}
        header a{color:#f9fafb;text-decoration:none}
        header .brand{font-weight:bold;font-size:17px;letter-spacing:.5px}
        header nav{flex:1}
        header form{margin:0;display:flex;gap:8px;align-items:center;color:#d1d5db}
        main{max-width:1440px;margin:0 auto;padding:18px 24px 48px}
        h1{font-size:22px;margin:6px 0 4px;word-break:break-all}
        h2{font-size:16px;margin:26px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
        a{color:var(--accent)}
        code,.mono{font-family:"DejaVu Sans Mono",monospace;font-size:12.5px;word-break:break-all}
        .badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;border:1px solid}
        .badge.trained{background:#eef6ee;border-color:#3f7d4a;color:#285a32}
        .badge.merged{background:#eef2fb;border-color:#3b5ba5;color:#2b4787}
        .badge.alias{background:#fff7ed;border-color:#c2410c;color:#9a3412}
        .facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:10px 0}
        .facts dt{color:var(--muted)}
        .facts dd{margin:0}
        .graph{overflow:auto;background:#fff;border:1px solid var(--line);border-radius:6px;padding:6px}
        .graph svg{display:block;max-width:100%;height:auto}
        .graph a:hover rect{stroke-width:3}
        .legend{color:var(--muted);font-size:12.5px;margin:6px 0 0}
        table{border-collapse:collapse;background:#fff;margin:6px 0}
        th,td{border:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
        th{background:#f3f4f6;font-weight:600}
        .recipe{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 14px;margin:10px 0}
        .recipe h3{font-size:14px;margin:4px 0 6px}
        .status{padding:8px 12px;border-radius:6px;border:1px solid}
        .status.pending{background:#f3f4f6;border-color:#9ca3af}
        .status.verified{background:#ecfdf5;border-color:#059669}
        .status.failed,.status.absent,.error{background:#fef2f2;border-color:#dc2626}
        .error{padding:8px 12px;border:1px solid;border-radius:6px}
        .muted{color:var(--muted)}
        ul.links{margin:4px 0;padding-left:20px}
        form.signin{background:#fff;border:1px solid var(--line);border-radius:6px;padding:16px;max-width:560px}
        form.signin input[type=password]{width:100%;padding:6px;font-family:"DejaVu Sans Mono",monospace}
        button{padding:4px 12px;cursor:pointer}
        """
}
