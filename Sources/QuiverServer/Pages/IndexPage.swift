import Foundation
import Hummingbird
import Registry

/// `GET /ui`: every adapter the token may read, with links to each version's page.
enum IndexPage {
    static func page(_ versions: [AdapterVersion], limit: Int, signedInAs: String) -> Page {
        let t = Page.text
        var byName: [String: [AdapterVersion]] = [:]
        for version in versions { byName[version.name, default: []].append(version) }
        var out = "<h1>Adapters</h1>\n"
        if byName.isEmpty {
            out += "<p class=\"muted\">No adapter you may read is registered (<code>quiver register</code>).</p>\n"
        } else {
            out += "<table><tr><th>adapter</th><th>latest</th><th>kind</th><th>rank</th><th>base model</th><th>versions</th></tr>"
            for name in byName.keys.sorted() {
                let list = byName[name]!.sorted { $0.version < $1.version }
                let latest = list.last!
                out += "<tr><td>\(t(name))</td><td>\(Page.link(Page.versionPath(latest.label), latest.label))</td>"
                out += "<td><span class=\"badge \(latest.kind.rawValue)\">\(latest.kind.rawValue)</span></td><td>\(latest.rank)</td>"
                out += "<td><code>\(t(latest.baseModel))</code></td><td>"
                out += list.suffix(30).map { Page.link(Page.versionPath($0.label), String($0.version)) }.joined(separator: " ")
                out += "</td></tr>"
            }
            out += "</table>\n"
        }
        if versions.count >= limit { out += "<p class=\"muted\">Only the first \(limit) versions are listed.</p>\n" }
        return Page(title: "Adapters", body: out, signedInAs: signedInAs)
    }
}

/// The sign-in form (`GET /ui/session`, and any page asked for without a session): paste a token once; the
/// browser then holds a session cookie, never the token.
enum SignInPage {
    static func page(next: String, message: String? = nil, status: HTTPResponse.Status = .ok) -> Page {
        let t = Page.text
        var out = "<h1>Sign in</h1>\n"
        if let message { out += "<p class=\"error\">\(t(message))</p>\n" }
        out += """
            <form class="signin" method="post" action="/ui/session">
            <p>Paste a Quiver token (<code>quiver token create --name me --scope read</code>). It is checked and kept by
            this server for the session; your browser receives only a session cookie (HttpOnly, SameSite=Strict) that
            expires after 8 hours or when you sign out.</p>
            <p><label for="token">Token</label><br><input id="token" name="token" type="password" autocomplete="off" required maxlength="128"></p>
            <input type="hidden" name="next" value="\(t(next))">
            <p><button type="submit">Sign in</button></p>
            </form>
            """
        var page = Page(title: "Sign in", body: out, signedInAs: nil)
        page.status = status
        return page
    }
}
