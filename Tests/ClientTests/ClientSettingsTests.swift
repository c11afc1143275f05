import Foundation
import QuiverClient
import QuiverCore
import QuiverTesting
import Testing

@Suite("client settings and errors")
struct ClientSettingsTests {
    @Test(arguments: ["http://127.0.0.1:8080", "http://127.0.0.1:8080/", "HTTP://localhost:9000/quiver/", "https://registry.example"])
    func acceptedServers(text: String) throws {
        let url = try ClientSettings.serverURL(text)
        #expect(!url.absoluteString.hasSuffix("/"))
        #expect(url.scheme == "http" || url.scheme == "https")
    }

    @Test(arguments: ["", "localhost:8080", "ftp://host", "http://", "http://user:secret@host", "http://host/?x=1", "http://host/#top", "http://host:0"])
    func refusedServers(text: String) {
        #expect(throws: ClientError.self) { try ClientSettings.serverURL(text) }
    }

    @Test func tokenFromTheEnvironmentOrAFile() throws {
        #expect(try ClientSettings.token(environment: [:]) == nil)
        #expect(try ClientSettings.token(environment: ["QUIVER_TOKEN": " qvr_abc \n"]) == "qvr_abc")
        let directory = try Fixtures.temporaryDirectory("client-token")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("token")
        try Data("qvr_fromfile\nsecond line\n".utf8).write(to: file)
        #expect(try ClientSettings.token(environment: ["QUIVER_TOKEN_FILE": file.path]) == "qvr_fromfile")
        // The variable wins over the file.
        #expect(try ClientSettings.token(environment: ["QUIVER_TOKEN": "qvr_env", "QUIVER_TOKEN_FILE": file.path]) == "qvr_env")
        #expect(throws: ClientError.self) { try ClientSettings.token(environment: ["QUIVER_TOKEN_FILE": directory.appendingPathComponent("absent").path]) }
        #expect(throws: ClientError.self) { try ClientSettings.token(environment: ["QUIVER_TOKEN": "qvr with space"]) }
    }

    @Test func errorBodiesKeepTheServersCodeAndKind() {
        let body = Data(#"{"error":{"code":"merge.rank_mismatch","kind":"refusal","message":"rank differs","hint":"use cat"}}"#.utf8)
        let error = RemoteError.from(status: 422, body: body, request: "POST /v1/merges")
        #expect(error.code == "merge.rank_mismatch" && error.errorKind == .refusal && error.reason == "rank differs" && error.hint == "use cat")
    }

    @Test(arguments: [
        (401, ErrorKind.unauthenticated, "auth.unauthenticated"), (403, .forbidden, "auth.forbidden"), (404, .notFound, "client.http_404"),
        (409, .conflict, "client.http_409"), (503, .unavailable, "client.http_503"), (500, .internal, "client.http_500"),
    ])
    func bodilessAnswersByStatus(status: Int, kind: ErrorKind, code: String) {
        let error = RemoteError.from(status: status, body: Data("<html>".utf8), request: "HEAD /v1/blobs/x")
        #expect(error.errorKind == kind && error.code == code)
    }
}
