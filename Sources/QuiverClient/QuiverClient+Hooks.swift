import Foundation
import Registry

/// Remote mode's webhooks: `POST`/`GET /v1/hooks`, `DELETE /v1/hooks/{id}`, `GET /v1/hook-deliveries` (admin).
extension QuiverClient {
    public func createHook(url: String, events: [HookEvent], adapterPattern: String?, secret: String?) throws -> CreatedHook {
        let body = HookBody(url: url, events: events.map(\.rawValue), adapters: adapterPattern, secret: secret)
        let call = APIConnection.Call(
            "POST", ["v1", "hooks"], body: try APIConnection.body(body), contentType: "application/json", repetition: .once,
            stall: settings.stallTimeout)
        return try connection.json(CreatedHook.self, call, expected: [201])
    }

    public func hooks() throws -> [WebhookRecord] {
        try connection.json([WebhookRecord].self, read(["v1", "hooks"]))
    }

    public func removeHook(id: Int64) throws {
        let call = APIConnection.Call("DELETE", ["v1", "hooks", String(id)], repetition: .once, stall: settings.stallTimeout)
        try connection.check(try connection.perform(call), call, expected: [204])
    }

    public func hookDeliveries(hookID: Int64?, limit: Int) throws -> [HookDelivery] {
        var query: [(String, String)] = [("limit", String(min(max(limit, 1), 10_000)))]
        if let hookID { query.append(("hook", String(hookID))) }
        return try connection.json([HookDelivery].self, read(["v1", "hook-deliveries"], query: query))
    }
}

/// `POST /v1/hooks`.
struct HookBody: Encodable {
    let url: String
    let events: [String]
    let adapters: String?
    let secret: String?
}
