import Foundation
import QuiverTesting
import Testing
@testable import QuiverServer

/// The OpenAPI document is the contract: the router is built from `RouteTable`, and these tests prove the two
/// agree (the HTTP suite proves every documented operation answers with a documented status).
@Suite("OpenAPI document and route table")
struct OpenAPIAgreementTests {
    static let documentURL = Fixtures.packageRoot.appendingPathComponent("openapi/quiver.openapi.json")

    /// `(METHOD, path) → operation` from the document.
    static func documentedOperations() throws -> [String: [String: Any]] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: documentURL)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations: [String: [String: Any]] = [:]
        for (path, item) in paths {
            for (method, operation) in item {
                guard let operation = operation as? [String: Any] else { continue }
                operations["\(method.uppercased()) \(path)"] = operation
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsRouted() throws {
        let documented = try Self.documentedOperations()
        let routed = Dictionary(uniqueKeysWithValues: RouteTable.operations.map { ("\($0.method) \($0.path)", $0) })
        #expect(Set(documented.keys) == Set(routed.keys), "documented but not routed: \(Set(documented.keys).subtracting(routed.keys)); routed but not documented: \(Set(routed.keys).subtracting(documented.keys))")
        for (key, route) in routed {
            let operation = try #require(documented[key], "\(key) is not documented")
            #expect(operation["operationId"] as? String == route.operationID, "\(key): operationId")
            #expect(operation["x-quiver-scope"] as? String == route.scope, "\(key): scope")
            // Routes that need no token say so in the document (security: []); the others inherit bearer.
            let security = operation["security"] as? [Any]
            #expect((route.scope == "none") == (security?.isEmpty == true), "\(key): security")
            // Every path parameter of the template is declared, and nothing else is.
            let templated = Set(route.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            let declared = Set(((operation["parameters"] as? [[String: Any]]) ?? []).filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String })
            #expect(templated == declared, "\(key): path parameters \(templated) vs \(declared)")
            // /v1 operations document the statuses every protected call can answer.
            let statuses = Set(((operation["responses"] as? [String: Any]) ?? [:]).keys)
            if route.scope != "none" {
                #expect(statuses.isSuperset(of: ["401", "403", "500", "503"]), "\(key): \(statuses.sorted())")
            }
        }
    }

    @Test func theEmbeddedDocumentIsTheFile() throws {
        let file = try String(contentsOf: Self.documentURL, encoding: .utf8)
        #expect(QuiverServer.openAPIDocument + "\n" == file,
                "Sources/QuiverServer/OpenAPI/EmbeddedOpenAPI.swift is stale: run scripts/gen-openapi.sh and commit the result")
    }

    @Test func operationIDsAreUnique() {
        let ids = RouteTable.operations.map(\.operationID)
        #expect(Set(ids).count == ids.count)
    }
}
