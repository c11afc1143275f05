import Foundation
import QuiverCore
import Testing
@testable import QuiverServer

/// The server's pure parts: ranges, the status table, request ids, bearer headers, route labels.
@Suite("server pure logic")
struct ServerUnitTests {
    @Test(arguments: [
        (nil as String?, ByteRangeRequest.whole),
        ("bytes=0-9", .partial(0..<10)),
        ("bytes=10-", .partial(10..<100)),
        ("bytes=-5", .partial(95..<100)),
        ("bytes=-500", .partial(0..<100)),
        ("bytes=90-200", .partial(90..<100)),
        ("bytes=100-", .unsatisfiable),
        ("bytes=-0", .unsatisfiable),
        ("bytes=5-2", .whole),
        ("bytes=0-1,4-5", .whole),
        ("items=0-1", .whole),
        ("bytes=a-b", .whole),
        ("bytes=99999999999999999999-", .whole),
    ])
    func rangeHeaders(header: String?, expected: ByteRangeRequest) {
        #expect(ByteRangeRequest.parse(header, size: 100) == expected)
    }

    @Test func statusesByKindAndTheThreeSharperCodes() {
        let table: [(ErrorKind, Int)] = [
            (.invalidInput, 400), (.unauthenticated, 401), (.forbidden, 403), (.notFound, 404), (.conflict, 409),
            (.refusal, 422), (.integrity, 422), (.internal, 500), (.unavailable, 503),
        ]
        for (kind, code) in table { #expect(Int(ErrorStatus.status(for: kind).code) == code, "\(kind)") }
        #expect(ErrorKind.allCases.count == table.count, "every kind has a status")
        #expect(ErrorStatus.status(for: ServerError.tooLarge("a blob", size: 2, limit: 1)).code == 413)
        #expect(ErrorStatus.status(for: ServerError.lengthRequired).code == 411)
        #expect(ErrorStatus.status(for: ServerError.rangeNotSatisfiable("bytes=9-", size: 1)).code == 416)
        #expect(ErrorStatus.status(for: ServerError.overloaded(retryAfterSeconds: 1)).code == 503)
    }

    @Test func requestIDsAreEchoedOnlyWhenSane() {
        #expect(RequestObservation.requestID("abc-123") == "abc-123")
        #expect(RequestObservation.requestID("has space") != "has space")
        #expect(RequestObservation.requestID(String(repeating: "x", count: 129)).count == 36)
        #expect(RequestObservation.requestID(nil).count == 36)
    }

    @Test func routeLabelsAreTemplates() {
        #expect(RequestObservation.template("/v1/versions/:ref/lineage") == "/v1/versions/{ref}/lineage")
        #expect(RequestObservation.template("/v1/blobs/{sha256}") == "/v1/blobs/{sha256}")
    }

    @Test func bearerHeaders() {
        #expect(Call.bearerSecret("Bearer qvr_abc") == "qvr_abc")
        #expect(Call.bearerSecret("bearer   qvr_abc ") == "qvr_abc")
        #expect(Call.bearerSecret("Basic dXNlcg==") == nil)
        #expect(Call.bearerSecret("Bearer") == nil)
        #expect(Call.bearerSecret(nil) == nil)
    }

    @Test func aStalledRequestBodyTimesOutInsteadOfHoldingItsThread() throws {
        let source = RequestBodySource(capacity: 1024, idleTimeout: 0.2)
        var buffer = [UInt8](repeating: 0, count: 16)
        let started = Date()
        let error = #expect(throws: ServerError.self) {
            try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        }
        let timeout = try #require(error)
        #expect(timeout.code == "server.body_timeout" && ErrorStatus.status(for: timeout) == .requestTimeout)
        #expect(Date().timeIntervalSince(started) < 5)
    }
}
