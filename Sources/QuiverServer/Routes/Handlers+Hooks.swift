import Hummingbird
import Registry

extension Handlers {
    /// `POST /v1/hooks`.
    struct HookBody: RequestBody {
        static let keys: Set<String> = ["url", "events", "adapters", "secret"]
        let url: String
        let events: [String]?
        let adapters: String?
        let secret: String?
    }

    static func createHook(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let body = try await call.json(HookBody.self)
        try HookRules.validate(url: body.url)
        let events = try HookRules.events((body.events ?? HookEvent.allCases.map(\.rawValue)).joined(separator: ","))
        try HookRules.validate(events: events, adapterPattern: body.adapters, secret: body.secret)
        try await call.authorize(.administer)
        let created = try await call.registry {
            try $0.createHook(url: body.url, events: events, adapterPattern: body.adapters, secret: body.secret)
        }
        // The secret is in the body once; it is never logged.
        call.logger.info("hook created", metadata: ["hook": "\(created.hook.id)", "events": "\(events.map(\.rawValue))"])
        return try call.json(created, status: .created)
    }

    static func listHooks(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        try await call.authorize(.administer)
        return try call.json(try await call.registry { try $0.hooks() })
    }

    static func hookID(_ text: String?, parameter: String) throws -> Int64 {
        guard let text, let id = Int64(text), id >= 1 else {
            throw ServerError.invalid("\(parameter) must be a hook id (a positive whole number)")
        }
        return id
    }

    static func removeHook(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let id = try hookID(try call.path("id", maxLength: 20), parameter: "the path parameter id")
        try await call.authorize(.administer)
        try await call.registry { try $0.removeHook(id: id) }
        call.logger.info("hook removed", metadata: ["hook": "\(id)"])
        return Response(status: .noContent)
    }

    static func listHookDeliveries(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters(["hook", "limit"])
        let hook = try call.query("hook", maxLength: 20).map { try hookID($0, parameter: "hook") }
        let limit = try call.query("limit", maxLength: 8).map { text in
            guard let value = Int(text), (1...1000).contains(value) else { throw ServerError.invalid("limit must be 1-1000") }
            return value
        } ?? 50
        try await call.authorize(.administer)
        return try call.json(try await call.registry { try $0.hookDeliveries(hookID: hook, limit: limit) })
    }
}
