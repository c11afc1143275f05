import Foundation
import QuiverCore
import QuiverTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `quiver serve` as a process, over the test PostgreSQL and SeaweedFS, driven through real HTTP with curl.
@Suite("quiver serve over HTTP", .serialized)
struct ServerHTTPTests {
    static let golden = Fixtures.peftGolden.appendingPathComponent("adapters", isDirectory: true)

    /// The two files of an adapter directory and their digests.
    struct Files {
        let config: URL
        let weights: URL
        var configDigest: String { Self.sha256(config) }
        var weightsDigest: String { Self.sha256(weights) }
        init(_ directory: URL) {
            config = directory.appendingPathComponent("adapter_config.json")
            weights = directory.appendingPathComponent("adapter_model.safetensors")
        }
        static func sha256(_ url: URL) -> String { (try? SHA256Digest.ofFile(at: url).hex) ?? "" }
    }

    /// Every exchange made through ``API``, by operation, to check the document's statuses against.
    final class Observed: Sendable {
        let calls = Mutex<[String: Set<Int>]>([:])
        func note(_ key: String, _ status: Int) { calls.withLock { _ = $0[key, default: []].insert(status) } }
    }

    /// Requests named by operation (`METHOD /template`), with the template's parameters percent-encoded.
    struct API {
        let server: TestServer
        let observed = Observed()

        @discardableResult
        func call(_ method: String, _ template: String, _ parameters: [String: String] = [:], query: String = "",
                  headers: [String: String] = [:], body: TestServer.Body = .none, token: String?,
                  expect status: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> TestServer.Exchange {
            var path = template
            var allowed = CharacterSet.urlPathAllowed
            allowed.remove(charactersIn: "/?#%@")
            allowed.insert("@")
            for (name, value) in parameters {
                path = path.replacingOccurrences(of: "{\(name)}", with: value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
            }
            let exchange = try server.request(method, path + (query.isEmpty ? "" : "?" + query), headers: headers, body: body, token: token)
            observed.note("\(method) \(template)", exchange.status)
            #expect(exchange.status == status, "\(method) \(path)?\(query): \(exchange)", sourceLocation: sourceLocation)
            // Pages (/ui) answer errors as HTML pages, everything else as the JSON error body.
            if exchange.status >= 400, method != "HEAD", !template.hasPrefix("/ui") {
                let error = (try? exchange.json() as? [String: Any])?["error"] as? [String: String]
                #expect(error.map { Set($0.keys) } == ["code", "kind", "message", "hint"], "error body of \(method) \(path): \(exchange.text)",
                        sourceLocation: sourceLocation)
            }
            return exchange
        }
    }

    static func object(_ exchange: TestServer.Exchange) throws -> [String: Any] {
        try #require(try exchange.json() as? [String: Any], "not a JSON object: \(exchange.text)")
    }

    static func errorCode(_ exchange: TestServer.Exchange) -> String? {
        ((try? exchange.json() as? [String: Any])?["error"] as? [String: String])?["code"]
    }

    /// Makes an admin token with the CLI, which prints it alone on stdout.
    static func adminToken(_ server: TestServer, name: String = "root") throws -> String {
        let run = try server.cli(["token", "create", "--name", name, "--scope", "admin"])
        try #require(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.range(of: #"^qvr_[A-Za-z0-9_-]{43}\n$"#, options: .regularExpression) != nil, "stdout is the token alone: \(run.stdout)")
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func upload(_ api: API, _ files: Files, token: String) throws {
        for file in [files.config, files.weights] {
            let exchange = try api.server.request("PUT", "/v1/blobs/\(Files.sha256(file))", body: .file(file), token: token)
            api.observed.note("PUT /v1/blobs/{sha256}", exchange.status)
            #expect([200, 201].contains(exchange.status), "\(exchange)")
        }
    }

    static func createToken(_ api: API, admin: String, name: String, scope: String, names: String? = nil) throws -> String {
        let pattern = names.map { #", "names": "\#($0)""# } ?? ""
        let exchange = try api.call("POST", "/v1/tokens", body: .json(#"{"name": "\#(name)", "scope": "\#(scope)"\#(pattern)}"#), token: admin, expect: 201)
        return try #require(try object(exchange)["secret"] as? String)
    }

    // MARK: - Every endpoint

    @Test func everyDocumentedOperationAnswersWithADocumentedStatus() throws {
        let server = try TestServer(arguments: ["--max-blob-size", "64KiB", "--workers", "1"])
        defer { server.tearDown() }
        let api = API(server: server)
        let admin = try Self.adminToken(server)

        // Operations without a token.
        let health = try api.call("GET", "/healthz", headers: ["X-Request-Id": "trace-42"], token: nil, expect: 200)
        #expect(try Self.object(health)["status"] as? String == "ok")
        #expect(health.headers["x-request-id"] == "trace-42", "the client's request id is echoed")
        #expect(try Self.object(try api.call("GET", "/readyz", token: nil, expect: 200))["status"] as? String == "ready")
        let document = try api.call("GET", "/openapi.json", token: nil, expect: 200)
        #expect(document.body == (try Data(contentsOf: OpenAPIAgreementTests.documentURL)).dropLast(), "the served document is the file")

        // Tokens.
        let writer = try Self.createToken(api, admin: admin, name: "writer", scope: "write", names: "team/*")
        let reader = try Self.createToken(api, admin: admin, name: "reader", scope: "read")
        try api.call("POST", "/v1/tokens", body: .json(#"{"name": "reader", "scope": "read"}"#), token: admin, expect: 409)
        try api.call("POST", "/v1/tokens", body: .json(#"{"name": "x", "scope": "root"}"#), token: admin, expect: 400)
        let tokens = try #require(try api.call("GET", "/v1/tokens", token: admin, expect: 200).json() as? [[String: Any]])
        #expect(Set(tokens.compactMap { $0["name"] as? String }) == ["root", "writer", "reader"])
        #expect(!tokens.contains { $0["secret"] != nil }, "a listing never shows a secret")

        // Blobs.
        let tone = Files(Self.golden.appendingPathComponent("a1")), json = Files(Self.golden.appendingPathComponent("a2"))
        let wide = Files(Self.golden.appendingPathComponent("a4"))
        let put = try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], body: .file(tone.weights), token: writer, expect: 201)
        #expect(try Self.object(put)["alreadyPresent"] as? Bool == false)
        let again = try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], body: .file(tone.weights), token: writer, expect: 200)
        #expect(try Self.object(again)["alreadyPresent"] as? Bool == true)
        try Self.upload(api, tone, token: writer)
        try Self.upload(api, json, token: writer)
        try Self.upload(api, wide, token: writer)
        try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], body: .file(tone.weights), token: reader, expect: 403)

        let weights = try Data(contentsOf: tone.weights)
        let etag = "\"sha256:\(tone.weightsDigest)\""
        let head = try api.call("HEAD", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], token: reader, expect: 200)
        #expect(head.headers["content-length"] == String(weights.count))
        #expect(head.headers["etag"] == etag)
        try api.call("HEAD", "/v1/blobs/{sha256}", ["sha256": String(repeating: "0", count: 64)], token: reader, expect: 404)
        let whole = try api.call("GET", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], token: reader, expect: 200)
        #expect(whole.body == weights)
        #expect(whole.headers["cache-control"] == "public, max-age=31536000, immutable")
        #expect(whole.headers["etag"] == etag)
        let ranged = try api.call("GET", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], headers: ["Range": "bytes=100-199"], token: reader, expect: 206)
        #expect(ranged.body == weights[100..<200])
        #expect(ranged.headers["content-range"] == "bytes 100-199/\(weights.count)")
        let suffix = try api.call("GET", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], headers: ["Range": "bytes=-16"], token: reader, expect: 206)
        #expect(suffix.body == weights.suffix(16))
        let outside = try api.call("GET", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], headers: ["Range": "bytes=\(weights.count)-"], token: reader, expect: 416)
        #expect(outside.headers["content-range"] == "bytes */\(weights.count)")
        try api.call("GET", "/v1/blobs/{sha256}", ["sha256": tone.weightsDigest], headers: ["If-None-Match": etag], token: reader, expect: 304)
        try api.call("GET", "/v1/blobs/{sha256}", ["sha256": String(repeating: "a", count: 64)], token: reader, expect: 404)
        try api.call("GET", "/v1/blobs/{sha256}", ["sha256": "not-a-digest"], token: reader, expect: 400)

        // Versions.
        let register = { (name: String, files: Files, token: String, status: Int) throws -> TestServer.Exchange in
            try api.call("POST", "/v1/versions", body: .json(#"{"name": "\#(name)", "config_sha256": "\#(files.configDigest)", "weights_sha256": "\#(files.weightsDigest)", "tags": {"skill": "\#(name.split(separator: "/").last!)"}}"#),
                         token: token, expect: status)
        }
        let created = try register("team/tone", tone, writer, 201)
        #expect(created.headers["location"] == "/v1/versions/team%2Ftone@1")
        #expect((try Self.object(created)["version"] as? [String: Any])?["createdBy"] as? String == "writer", "the version is recorded as the token's")
        #expect(try Self.object(try register("team/tone", tone, writer, 200))["existed"] as? Bool == true)
        _ = try register("team/json", json, writer, 201)
        _ = try register("team/wide", wide, writer, 201)
        #expect(Self.errorCode(try register("other", json, writer, 403)) == "auth.name_pattern")
        try api.call("POST", "/v1/versions", body: .json(#"{"name": "team/x", "config_sha256": "\#(tone.configDigest)", "weights_sha256": "\#(tone.weightsDigest)", "colour": "red"}"#), token: writer, expect: 400)
        try api.call("POST", "/v1/versions", body: .json(#"{"name": "team/x", "config_sha256": "\#(String(repeating: "b", count: 64))", "weights_sha256": "\#(tone.weightsDigest)"}"#), token: writer, expect: 404)
        try api.call("POST", "/v1/versions", headers: ["Content-Type": "application/json"], body: .bytes(Data(repeating: 0x20, count: 2 << 20)), token: writer, expect: 413)

        let all = try #require(try api.call("GET", "/v1/versions", token: reader, expect: 200).json() as? [[String: Any]])
        #expect(all.count == 3)
        let filtered = try #require(try api.call("GET", "/v1/versions", query: "name=team%2Ftone&tag=skill%3Dtone&rank=8&kind=trained&limit=5", token: reader, expect: 200).json() as? [[String: Any]])
        #expect(filtered.map { $0["name"] as? String } == ["team/tone"])
        try api.call("GET", "/v1/versions", query: "rank=eight", token: reader, expect: 400)
        try api.call("GET", "/v1/versions", query: "colour=red", token: reader, expect: 400)

        let shown = try api.call("GET", "/v1/versions/{ref}", ["ref": "team/tone@1"], token: reader, expect: 200)
        let canonical = try #require(((try Self.object(shown)["version"] as? [String: Any])?["canonicalDigest"] as? [String: Any])?["hex"] as? String)
        #expect(shown.headers["etag"] == "\"sha256:\(canonical)\"")
        #expect(shown.headers["cache-control"] == "public, max-age=31536000, immutable")
        // Only what never changes: the aliases and evaluations, which do, are resources of their own, so the
        // immutable caching above cannot serve a stale alias.
        #expect(Set(try Self.object(shown).keys) == ["version", "modules"])
        try api.call("GET", "/v1/versions/{ref}", ["ref": "team/tone@1"], headers: ["If-None-Match": "\"sha256:\(canonical)\""], token: reader, expect: 304)
        let latest = try api.call("GET", "/v1/versions/{ref}", ["ref": "team/tone"], token: reader, expect: 200)
        #expect(latest.headers["cache-control"] == "no-cache")
        try api.call("GET", "/v1/versions/{ref}", ["ref": tone.weightsDigest], token: reader, expect: 200)
        try api.call("GET", "/v1/versions/{ref}", ["ref": "nobody"], token: reader, expect: 404)
        try api.call("GET", "/v1/versions/{ref}", ["ref": "bad name!"], token: reader, expect: 400)

        // Evaluations.
        try api.call("POST", "/v1/versions/{ref}/evaluations", ["ref": "team/tone@1"], body: .json(#"{"suite": "style", "metric": "acc", "value": 0.8}"#), token: writer, expect: 201)
        let evaluations = try #require(try api.call("GET", "/v1/versions/{ref}/evaluations", ["ref": "team/tone@1"], token: reader, expect: 200).json() as? [[String: Any]])
        #expect(evaluations.first?["suite"] as? String == "style")
        try api.call("POST", "/v1/versions/{ref}/evaluations", ["ref": "team/tone@1"], body: .json(#"{"suite": "style", "metric": "acc", "value": 0.8}"#), token: reader, expect: 403)
        try api.call("GET", "/v1/versions/{ref}/evaluations", ["ref": "team/nobody"], token: reader, expect: 404)

        // Merges: within the request, again (existed), refused, and as a job the server's worker runs.
        let mergeBody = #"{"inputs": ["team/tone", "team/json@1"], "into": "team/blend", "method": "ties", "density": 0.5}"#
        let merged = try api.call("POST", "/v1/merges", body: .json(mergeBody), token: writer, expect: 201)
        #expect(merged.headers["location"] == "/v1/versions/team%2Fblend@1")
        #expect(try Self.object(try api.call("POST", "/v1/merges", body: .json(mergeBody), token: writer, expect: 200))["existed"] as? Bool == true)
        let refused = try api.call("POST", "/v1/merges", body: .json(#"{"inputs": ["team/tone", "team/wide"], "into": "team/bad", "method": "ties", "density": 0.5}"#), token: writer, expect: 422)
        #expect(Self.errorCode(refused) == "merge.rank_mismatch")
        try api.call("POST", "/v1/merges", body: .json(#"{"inputs": ["team/tone"], "into": "team/x", "method": "nonsense"}"#), token: writer, expect: 400)
        try api.call("POST", "/v1/merges", body: .json(#"{"inputs": ["team/nobody"], "into": "team/x", "method": "linear"}"#), token: writer, expect: 404)
        let queued = try api.call("POST", "/v1/merges", body: .json(#"{"inputs": ["team/tone", "team/json"], "into": "team/queued", "method": "linear", "async": true}"#), token: writer, expect: 202)
        let jobID = try #require(try Self.object(queued)["id"] as? Int)
        #expect(queued.headers["location"] == "/v1/jobs/\(jobID)")
        var status = ""
        for _ in 0..<300 where status != "succeeded" && status != "failed" {
            status = try Self.object(try api.call("GET", "/v1/jobs/{id}", ["id": String(jobID)], token: reader, expect: 200))["status"] as? String ?? ""
            if status != "succeeded" { usleep(100_000) }
        }
        #expect(status == "succeeded", "the server's worker ran the job")
        try api.call("GET", "/v1/jobs/{id}", ["id": "999999"], token: reader, expect: 404)

        // Lineage, verify, audit.
        let graph = try Self.object(try api.call("GET", "/v1/versions/{ref}/lineage", ["ref": "team/blend"], token: reader, expect: 200))
        #expect((graph["nodes"] as? [Any])?.count == 3)
        let mermaid = try api.call("GET", "/v1/versions/{ref}/lineage", ["ref": "team/blend"], query: "format=mermaid", token: reader, expect: 200)
        #expect(mermaid.text.hasPrefix("graph") || mermaid.text.hasPrefix("flowchart"), "\(mermaid.text)")
        try api.call("GET", "/v1/versions/{ref}/lineage", ["ref": "team/tone"], query: "direction=descendants&format=dot", token: reader, expect: 200)
        try api.call("GET", "/v1/versions/{ref}/lineage", ["ref": "team/tone"], query: "format=xml", token: reader, expect: 400)
        try api.call("GET", "/v1/versions/{ref}/lineage", ["ref": "team/nobody"], token: reader, expect: 404)
        let verified = try Self.object(try api.call("POST", "/v1/versions/{ref}/verify", ["ref": "team/blend@1"], token: reader, expect: 200))
        #expect(verified["passed"] as? Bool == true)
        try api.call("POST", "/v1/versions/{ref}/verify", ["ref": "team/nobody"], token: reader, expect: 404)
        let audit = try Self.object(try api.call("GET", "/v1/audit/{query}", ["query": "team/blend"], token: reader, expect: 200))
        #expect((audit["roots"] as? [Any])?.count == 2)
        try api.call("GET", "/v1/audit/{query}", ["query": tone.weightsDigest], token: reader, expect: 200)
        try api.call("GET", "/v1/audit/{query}", ["query": "team/nobody"], token: reader, expect: 404)
        // The server never hashes a file of its own: a path is just a malformed reference.
        try api.call("GET", "/v1/audit/{query}", ["query": "/etc/passwd"], token: reader, expect: 400)

        // Aliases: an ordinary one with a write token; the protected one needs admin, and evaluations or force.
        let staged = try api.call("PUT", "/v1/adapters/{name}/aliases/{alias}", ["name": "team/blend", "alias": "staging"], body: .json(#"{"version": 1}"#), token: writer, expect: 200)
        #expect(try Self.object(staged)["alias"] as? String == "staging")
        let aliases = try Self.object(try api.call("GET", "/v1/adapters/{name}/aliases", ["name": "team/blend"], token: reader, expect: 200))
        #expect((aliases["aliases"] as? [String: Int]) == ["staging": 1])
        try api.call("GET", "/v1/adapters/{name}/aliases", ["name": "team/nobody"], token: reader, expect: 404)
        let denied = try api.call("PUT", "/v1/adapters/{name}/aliases/{alias}", ["name": "team/blend", "alias": "production"], body: .json(#"{"version": 1}"#), token: writer, expect: 403)
        #expect(Self.errorCode(denied) == "auth.scope")
        let unevaluated = try api.call("PUT", "/v1/adapters/{name}/aliases/{alias}", ["name": "team/blend", "alias": "production"], body: .json(#"{"version": 1}"#), token: admin, expect: 422)
        #expect(Self.errorCode(unevaluated) == "registry.promotion_refused")
        let forced = try api.call("PUT", "/v1/adapters/{name}/aliases/{alias}", ["name": "team/blend", "alias": "production"], body: .json(#"{"version": 1, "force": true}"#), token: admin, expect: 200)
        #expect(try Self.object(forced)["forced"] as? Bool == true)
        try api.call("PUT", "/v1/adapters/{name}/aliases/{alias}", ["name": "team/blend", "alias": "staging"], body: .json(#"{"version": 9}"#), token: writer, expect: 404)
        try api.call("PUT", "/v1/adapters/{name}/aliases/{alias}", ["name": "team/blend", "alias": "staging"], body: .bytes(Data(repeating: 0x20, count: 2 << 20)), token: writer, expect: 413)
        try api.call("PUT", "/v1/adapters/{name}/aliases/{alias}", ["name": "team/blend", "alias": "staging"], body: .json(#"{"version": 1, "version": 2}"#), token: writer, expect: 400)

        // The lineage as a picture, and the pages: HTML for people (errors are pages too), with a bearer token or
        // the session cookie of POST /ui/session (LineagePageTests has the rest).
        let svg = try api.call("GET", "/v1/versions/{ref}/lineage", ["ref": "team/blend"], query: "format=svg", token: reader, expect: 200)
        #expect(svg.headers["content-type"] == "image/svg+xml; charset=utf-8" && svg.text.hasPrefix("<svg"), "\(svg)")
        let index = try api.call("GET", "/ui", token: reader, expect: 200)
        #expect(index.headers["content-type"] == "text/html; charset=utf-8" && index.text.contains("team/blend@1"))
        #expect(try api.call("GET", "/ui", token: nil, expect: 401).text.contains("<form class=\"signin\""))
        let page = try api.call("GET", "/ui/versions/{ref}", ["ref": "team/blend@1"], token: reader, expect: 200)
        #expect(page.text.contains("<svg") && page.headers["content-security-policy"]?.hasPrefix("default-src 'none'") == true)
        try api.call("GET", "/ui/versions/{ref}", ["ref": "team/nobody"], token: reader, expect: 404)
        try api.call("GET", "/ui/versions/{ref}", ["ref": "bad name!"], token: reader, expect: 400)
        #expect(try api.call("POST", "/ui/versions/{ref}/verify", ["ref": "team/blend@1"], token: reader, expect: 200).text.contains("<strong>passed</strong>"))
        try api.call("POST", "/ui/versions/{ref}/verify", ["ref": "team/blend@1"], headers: ["Origin": "http://attacker.invalid"], token: reader, expect: 403)
        try api.call("GET", "/ui/session", query: "next=%2Fui", token: nil, expect: 200)
        let form = ["Content-Type": "application/x-www-form-urlencoded"]
        try api.call("POST", "/ui/session", headers: form, body: .bytes(Data("token=qvr_wrong&next=%2Fui".utf8)), token: nil, expect: 401)
        let signedIn = try api.call("POST", "/ui/session", headers: form, body: .bytes(Data("token=\(reader)&next=%2Fui".utf8)), token: nil, expect: 303)
        let cookie = try #require(signedIn.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
        try api.call("GET", "/ui", headers: ["Cookie": cookie], token: nil, expect: 200)
        try api.call("POST", "/ui/session/end", headers: ["Cookie": cookie, "Origin": "http://attacker.invalid"], token: nil, expect: 403)
        try api.call("POST", "/ui/session/end", headers: ["Cookie": cookie], token: nil, expect: 303)
        try api.call("GET", "/ui", headers: ["Cookie": cookie], token: nil, expect: 401)

        // Policy and gc.
        let policy = try Self.object(try api.call("GET", "/v1/policy", token: reader, expect: 200))
        #expect(policy["protectedAliases"] as? [String] == ["production"])
        try api.call("PUT", "/v1/policy/{key}", ["key": "max_merged_rank"], body: .json("64"), token: writer, expect: 403)
        let changed = try Self.object(try api.call("PUT", "/v1/policy/{key}", ["key": "max_merged_rank"], body: .json("64"), token: admin, expect: 200))
        #expect(changed["maxMergedRank"] as? Int == 64)
        try api.call("PUT", "/v1/policy/{key}", ["key": "max_merged_rank"], body: .json("\"big\""), token: admin, expect: 400)
        try api.call("PUT", "/v1/policy/{key}", ["key": "max_merged_rank"], body: .bytes(Data(repeating: 0x20, count: 2 << 20)), token: admin, expect: 413)
        let gc = try Self.object(try api.call("POST", "/v1/gc", body: .json(#"{"grace_seconds": 3600, "dry_run": true}"#), token: admin, expect: 200))
        #expect(gc["dryRun"] as? Bool == true)
        try api.call("POST", "/v1/gc", body: .json(#"{"grace_seconds": 0}"#), token: writer, expect: 403)
        try api.call("POST", "/v1/gc", body: .json(#"{"grace": 0}"#), token: admin, expect: 400)
        try api.call("POST", "/v1/gc", headers: ["Content-Type": "application/json"], body: .bytes(Data(repeating: 0x20, count: 2 << 20)), token: admin, expect: 413)

        // Blob refusals: too large (before reading), no Content-Length, bytes that do not match the digest.
        let big = Data((0..<(65 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let bigDigest = SHA256Digest.of(big).hex
        let tooLarge = try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": bigDigest], body: .bytes(big), token: writer, expect: 413)
        #expect(Self.errorCode(tooLarge) == "server.too_large")
        let chunked = try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": bigDigest], headers: ["Transfer-Encoding": "chunked"], body: .bytes(Data("abc".utf8)), token: writer, expect: 411)
        #expect(Self.errorCode(chunked) == "server.length_required")
        let forged = try api.call("PUT", "/v1/blobs/{sha256}", ["sha256": bigDigest], body: .bytes(Data("not these bytes".utf8)), token: writer, expect: 400)
        #expect(Self.errorCode(forged) == "objectstore.corrupt_blob")
        let stored = try server.cli(["blob", "head", bigDigest])
        #expect(stored.status == 3, "nothing was stored under the digest: \(stored.status) \(stored.stdout) \(stored.stderr)")

        // Revoking: the token stops working at once.
        try api.call("DELETE", "/v1/tokens/{name}", ["name": "reader"], token: writer, expect: 403)
        try api.call("DELETE", "/v1/tokens/{name}", ["name": "reader"], token: admin, expect: 204)
        try api.call("GET", "/v1/policy", token: reader, expect: 401)
        try api.call("DELETE", "/v1/tokens/{name}", ["name": "reader"], token: admin, expect: 404)

        // Metrics (last, so they count the requests above) label routes by template.
        let metrics = try api.call("GET", "/metrics", token: nil, expect: 200)
        #expect(metrics.text.contains(#"quiver_http_requests_total{method="GET",route="/v1/versions/{ref}",status="200"}"#), "\(metrics.text.prefix(3000))")
        #expect(metrics.text.contains("quiver_http_request_duration_seconds_bucket"))
        #expect(metrics.text.contains("quiver_merge_duration_seconds"))
        #expect(metrics.text.contains("quiver_executor_wait_seconds"))
        #expect(metrics.text.contains("quiver_http_request_body_bytes_total"))

        // Every documented operation was called, and answered only with statuses it documents.
        let documented = try OpenAPIAgreementTests.documentedOperations()
        let seen = api.observed.calls.withLock { $0 }
        #expect(Set(seen.keys) == Set(documented.keys), "not exercised: \(Set(documented.keys).subtracting(seen.keys).sorted())")
        for (key, statuses) in seen {
            let allowed = Set(((documented[key]?["responses"] as? [String: Any]) ?? [:]).keys)
            for status in statuses { #expect(allowed.contains(String(status)), "\(key) answered \(status), documented: \(allowed.sorted())") }
        }

        // SIGTERM: a graceful stop, exit 0.
        let stopped = server.stop()
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(2000))")
        #expect(!stopped.stderr.contains(admin) && !stopped.stderr.contains(writer), "no token in the log")
        #expect(!stopped.stderr.contains(TestS3.fromEnvironment()?.secretKey ?? "never"), "no S3 secret in the log")
    }
}
