import Foundation
import QuiverCore
import QuiverTesting
import Testing

/// The lineage page of `quiver serve` over a depth-3 merge: its HTML, headers and sessions through curl, and the
/// page as a person sees it, in headless Chromium (labels measured in the rendered page, and a screenshot).
@Suite("lineage page", .serialized)
struct LineagePageTests {
    static let golden = Fixtures.peftGolden.appendingPathComponent("adapters", isDirectory: true)

    /// Four trained adapters and three levels of merges over them:
    ///
    ///     tone, json → chat (ties);  safety, brevity → guard (linear);  chat, guard → core (svd);  core, tone → assistant (linear)
    static func depthThreeMerge(_ server: TestServer) throws {
        func cli(_ arguments: [String]) throws {
            let run = try server.cli(arguments)
            try #require(run.status == 0, "quiver \(arguments.joined(separator: " ")): \(run.stderr)")
        }
        try cli(["register", golden.appendingPathComponent("a1").path, "--name", "tone", "--tag", "skill=tone",
                 "--tag", #"note=<script>alert("tag")</script>&amp;"#])
        try cli(["register", golden.appendingPathComponent("a2").path, "--name", "json", "--tag", "skill=json"])
        try cli(["register", golden.appendingPathComponent("a9_conflict").path, "--name", "safety", "--tag", "skill=safety"])
        try cli(["register", golden.appendingPathComponent("a3").path, "--name", "brevity", "--tag", "skill=brevity"])
        try cli(["policy", "set", "allow_scaling_fold", "true"])
        try cli(["merge", "--method", "ties", "--density", "0.5", "--weights", "0.6,0.4", "--into", "chat", "tone", "json"])
        try cli(["merge", "--method", "linear", "--weights", "0.5,0.5", "--allow-scaling-mismatch", "--into", "guard", "safety", "brevity"])
        try cli(["merge", "--method", "svd", "--svd-rank", "8", "--into", "core", "chat", "guard"])
        try cli(["merge", "--method", "dare_linear", "--density", "0.7", "--seed", "42", "--weights", "0.8,0.2", "--allow-scaling-mismatch",
                 "--into", "assistant", "core", "tone"])
        try cli(["eval", "record", "assistant@1", "--suite", "tone", "--metric", "acc", "--value", "0.91"])
        try cli(["eval", "record", "assistant@1", "--suite", "json", "--metric", "loss", "--value", "0.12", "--lower-is-better"])
        try cli(["alias", "set", "assistant", "staging", "1"])
        try cli(["alias", "set", "assistant", "production", "1", "--force"])
    }

    static func token(_ server: TestServer, name: String, scope: String) throws -> String {
        let run = try server.cli(["token", "create", "--name", name, "--scope", scope])
        try #require(run.status == 0, "\(run.stderr)")
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let labels = ["assistant@1", "core@1", "chat@1", "guard@1", "tone@1", "json@1", "safety@1", "brevity@1"]

    @Test func theVersionPageShowsLineageRecipesAliasesEvaluationsAndProvenanceEscaped() throws {
        let server = try TestServer()
        defer { server.tearDown() }
        try Self.depthThreeMerge(server)
        let reader = try Self.token(server, name: "reader", scope: "read")

        let page = try server.request("GET", "/ui/versions/assistant@1", token: reader)
        try #require(page.status == 200, "\(page)")
        let html = page.text
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        let csp = try #require(page.headers["content-security-policy"])
        #expect(csp.hasPrefix("default-src 'none'; style-src 'sha256-") && !csp.contains("unsafe"), "\(csp)")
        #expect(page.headers["x-content-type-options"] == "nosniff" && page.headers["x-frame-options"] == "DENY")
        #expect(page.headers["cache-control"] == "no-store")
        #expect(!html.contains("<script"), "no script, and no tag value turned into one")

        // The picture: every version of the depth-3 lineage, linked to its page, with kind, rank and short digest.
        for label in Self.labels {
            #expect(html.contains("<text class=\"label\"") && html.contains(">\(label)</text>"), "\(label) in the picture")
            #expect(html.contains("href=\"/ui/versions/\(label)\""), "\(label) links to its page")
        }
        #expect(html.contains(">merged · r8</text>") && html.contains(">trained · r8</text>"))
        #expect(html.contains(">ties 0.6</text>") && html.contains(">dare_linear 0.8</text>") && html.contains(">svd 0.5</text>"))
        // Recipes: every merge on the path with its method, seed, software version and every parameter.
        for method in ["ties", "linear", "svd", "dare_linear"] { #expect(html.contains(" = \(method)</h3>"), "\(method) recipe") }
        #expect(html.contains("<dt>seed</dt><dd>42</dd>"))
        #expect(html.contains("<code>density</code></td><td><code>0.7</code>"), "parameters as recorded")
        #expect(html.contains("<dt>software</dt><dd><code>\(QuiverVersion.current)</code>"), "software version")
        // Parents and children, evaluations, alias history, provenance.
        #expect(html.contains("<h2 id=\"parents\">Parents</h2>\n<ul class=\"links\"><li><a href=\"/ui/versions/core@1\">core@1</a>"))
        #expect(html.contains("<td>tone</td><td>acc</td><td>0.91</td><td>higher</td>") && html.contains("<td>json</td><td>loss</td><td>0.12</td><td>lower</td>"))
        #expect(html.contains("<td>assistant@production") && html.contains("<td>assistant@staging"))
        #expect(html.contains("<h2 id=\"provenance\">Provenance</h2>") && html.contains("class=\"status pending\""))

        // A trained root: its children are listed, and its hostile tag is text, not markup.
        let tone = try server.request("GET", "/ui/versions/tone@1", token: reader)
        #expect(tone.status == 200)
        #expect(tone.text.contains("note=&lt;script&gt;alert(&quot;tag&quot;)&lt;/script&gt;&amp;amp;"), "\(tone.text.prefix(4000))")
        #expect(!tone.text.contains("<script"))
        #expect(tone.text.contains("<a href=\"/ui/versions/chat@1\">chat@1</a>") && tone.text.contains("<a href=\"/ui/versions/assistant@1\">assistant@1</a>"))

        // The API's picture and the CLI's are the same bytes (one renderer), and the CLI works offline of the server.
        let api = try server.request("GET", "/v1/versions/assistant@1/lineage?format=svg", token: reader)
        #expect(api.headers["content-type"] == "image/svg+xml; charset=utf-8")
        let cli = try server.cli(["lineage", "assistant@1", "--format", "svg"])
        #expect(cli.status == 0 && cli.stdout == api.text, "\(cli.stderr)")
        let down = try server.cli(["lineage", "tone", "--format", "svg", "--down"])
        #expect(down.status == 0 && down.stdout.contains(">assistant@1</text>") && !down.stdout.contains(">json@1</text>"))
    }

    @Test func browsersSignInWithASessionCookieNeverAQueryToken() throws {
        let server = try TestServer()
        defer { server.tearDown() }
        try Self.depthThreeMerge(server)
        let reader = try Self.token(server, name: "reader", scope: "read")

        // No token: the sign-in form, which comes back to the page asked for. A token in the URL is not read.
        let anonymous = try server.request("GET", "/ui/versions/assistant@1?token=\(reader)")
        #expect(anonymous.status == 401 && anonymous.text.contains("<form class=\"signin\""))
        let noQuery = try server.request("GET", "/ui/versions/assistant@1")
        #expect(noQuery.status == 401 && noQuery.text.contains("name=\"next\" value=\"/ui/versions/assistant@1\""))

        let form = ["Content-Type": "application/x-www-form-urlencoded"]
        let signedIn = try server.request("POST", "/ui/session", headers: form,
                                          body: .bytes(Data("token=\(reader)&next=%2Fui%2Fversions%2Fassistant%401".utf8)))
        #expect(signedIn.status == 303 && signedIn.headers["location"] == "/ui/versions/assistant@1")
        let setCookie = try #require(signedIn.headers["set-cookie"])
        #expect(setCookie.hasPrefix("quiver_session=") && setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        #expect(setCookie.contains("Path=/ui") && !setCookie.contains("Secure") && !setCookie.contains(reader), "the cookie is a session id, not the token")
        let cookie = String(setCookie.split(separator: ";")[0])
        #expect(try server.request("GET", "/ui/versions/assistant@1", headers: ["Cookie": cookie]).status == 200)
        // The cookie is for pages only: the API still wants a bearer token.
        #expect(try server.request("GET", "/v1/versions/assistant@1", headers: ["Cookie": cookie]).status == 401)

        // Behind an https proxy the cookie is Secure; a `next` to another site is ignored.
        let proxied = try server.request("POST", "/ui/session", headers: form.merging(["X-Forwarded-Proto": "https"]) { $1 },
                                         body: .bytes(Data("token=\(reader)&next=%2F%2Fattacker.invalid%2Fui".utf8)))
        #expect(proxied.status == 303 && proxied.headers["location"] == "/ui" && proxied.headers["set-cookie"]?.contains("; Secure") == true)
        // A form posted from another origin is refused.
        let forged = try server.request("POST", "/ui/session", headers: form.merging(["Origin": "http://attacker.invalid"]) { $1 },
                                        body: .bytes(Data("token=\(reader)".utf8)))
        #expect(forged.status == 403 && forged.headers["set-cookie"] == nil)

        // Revoking the token ends its sessions at once.
        #expect(try server.cli(["token", "revoke", "reader"]).status == 0)
        let revoked = try server.request("GET", "/ui/versions/assistant@1", headers: ["Cookie": cookie])
        #expect(revoked.status == 401 && revoked.text.contains("no longer valid"))
        let stopped = server.stop()
        #expect(!stopped.stderr.contains(reader), "no token in the log")
    }

    /// The page in a real browser: signed in through the form, rendered with scripts disabled, every node label of
    /// the picture measured in the rendered page (a visible, non-empty box inside the viewport), and a screenshot.
    /// `QUIVER_SCREENSHOT_DIR` keeps the screenshot (docs/images/lineage-page.png is one).
    @Test func headlessChromiumShowsEveryNodeLabelOfADepthThreeMerge() throws {
        let chromium = try TestBrowser.require()
        let server = try TestServer()
        defer { server.tearDown() }
        try Self.depthThreeMerge(server)
        let reader = try Self.token(server, name: "reader", scope: "read")
        let scratch = try Fixtures.temporaryDirectory("browser")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let keep = ProcessInfo.processInfo.environment["QUIVER_SCREENSHOT_DIR"].map { URL(fileURLWithPath: $0) }
        let screenshot = (keep ?? scratch).appendingPathComponent("lineage-page.png")

        let script = Fixtures.packageRoot.appendingPathComponent("scripts/browser/page_check.py").path
        let run = try ChildProcess.run("python3", [script, "--chromium", chromium.path, "--base", server.baseURL,
                                                   "--page", "/ui/versions/assistant@1", "--screenshot", screenshot.path],
                                       environment: ["QUIVER_TOKEN": reader])
        try #require(run.status == 0, "page_check.py: \(run.stderr.suffix(3000))")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")

        // Signed in through the form: the browser holds an HttpOnly, SameSite=Strict session cookie, not the token.
        let before = try #require(report["before_sign_in"] as? [String: Any])
        #expect(before["form"] as? Bool == true && before["next"] as? String == "/ui/versions/assistant@1")
        let cookies = try #require(report["cookies"] as? [[String: Any]])
        #expect(cookies.count == 1 && cookies.first?["name"] as? String == "quiver_session")
        #expect(cookies.first?["httpOnly"] as? Bool == true && cookies.first?["sameSite"] as? String == "Strict")
        #expect(report["cookie_holds_token"] as? Bool == false)

        let page = try #require(report["page"] as? [String: Any])
        #expect(page["h1"] as? String == "assistant@1 merged @production @staging" || (page["h1"] as? String)?.hasPrefix("assistant@1") == true)
        #expect(page["scripts"] as? Int == 0)
        #expect(page["headerBackground"] as? String == "rgb(31, 41, 55)", "the stylesheet applied under the CSP")
        let viewport = try #require(page["viewport"] as? [String: Double])
        let texts = try #require(page["texts"] as? [[String: Any]])
        let nodeLabels = texts.filter { $0["cls"] as? String == "label" }
        #expect(Set(nodeLabels.compactMap { $0["text"] as? String }) == Set(Self.labels))
        for text in texts {
            let rect = try #require(text["rect"] as? [String: Double])
            let label = text["text"] as? String ?? "?"
            #expect(rect["width"]! > 4 && rect["height"]! > 4, "\(label) has a box: \(rect)")
            #expect(rect["x"]! >= 0 && rect["y"]! >= 0 && rect["x"]! + rect["width"]! <= viewport["width"]! && rect["y"]! + rect["height"]! <= viewport["height"]!,
                    "\(label) is inside the viewport: \(rect) in \(viewport)")
            #expect(text["visibility"] as? String == "visible" && text["display"] as? String != "none" && text["opacity"] as? String == "1", "\(label) is visible")
            let size = Double((text["fontSize"] as? String ?? "0").replacingOccurrences(of: "px", with: "")) ?? 0
            #expect(size >= 9, "\(label) is legible (\(size) px)")
        }
        // No two node labels overlap.
        let boxes = nodeLabels.compactMap { $0["rect"] as? [String: Double] }
        for (i, a) in boxes.enumerated() {
            for b in boxes[(i + 1)...] {
                let apart = a["x"]! + a["width"]! <= b["x"]! || b["x"]! + b["width"]! <= a["x"]! || a["y"]! + a["height"]! <= b["y"]! || b["y"]! + b["height"]! <= a["y"]!
                #expect(apart, "labels overlap: \(a) \(b)")
            }
        }
        let links = try #require(page["links"] as? [String])
        #expect(Set(links) == Set(Self.labels.map { "/ui/versions/\($0)" }))
        let sections = try #require(page["sections"] as? [String])
        #expect(sections.starts(with: ["Lineage", "Parents", "Children", "Merge recipes", "Evaluations", "Alias history", "Provenance"]), "\(sections)")

        // The screenshot is a real PNG of the page's size.
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "\(png.count) bytes")
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == Int(viewport["width"]!) && height == Int(viewport["height"]!))
    }
}
