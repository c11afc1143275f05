import Foundation
import Hummingbird
import Logging
import QuiverCore
import Registry
import ServiceLifecycle

/// `quiver serve`: the registry's use cases over HTTP (Hummingbird 2).
///
/// The server authenticates, authorises, parses, calls `Registry` and maps results and errors; it holds no
/// use-case logic. Every registry and blob-store call runs on a ``ServerExecutor`` (never on an event loop), every
/// route comes from ``RouteTable`` (checked against the OpenAPI document by a test), and SIGTERM or SIGINT shut it
/// down gracefully: stop accepting, finish in-flight requests, hand running jobs back, let webhook sends in flight
/// end, then close the pool. Webhook deliveries are sent by ``HookDeliveries`` from the catalog's outbox.
public enum QuiverServer {
    /// The OpenAPI document compiled into the binary (`openapi/quiver.openapi.json` without its final newline).
    public static var openAPIDocument: String { EmbeddedOpenAPI.json }

    /// Runs the server until SIGTERM or SIGINT, then shuts down gracefully and closes `registry`'s pool.
    ///
    /// - Parameters:
    ///   - registry: the registry requests act on (each as its token: `registry.acting(as:)`).
    ///   - redaction: masks secrets (database password, S3 keys) in everything logged or answered.
    public static func run(registry: Registry, settings: ServerSettings, redaction: SecretRedaction, logger: Logger) async throws {
        let metrics = ServerMetrics()
        let executor = ServerExecutor(threads: settings.executorThreads, maxWaiting: settings.maxWaiting, metrics: metrics)
        let transfers = ServerExecutor(threads: settings.transferThreads, maxWaiting: settings.maxWaiting, name: "quiver-transfer")
        let caches = ServerCaches(url: registry.pool.url, maxBytes: settings.readCacheBytes, metrics: metrics, logger: logger)
        caches.start()
        let environment = ServerEnvironment(
            registry: registry, executor: executor, transfers: transfers, settings: settings, metrics: metrics, redaction: redaction, tokenUses: TokenUseNotes(),
            caches: caches, sessions: PageSessions())
        let app = Application(
            router: makeRouter(environment),
            server: .http1(configuration: .init(additionalChannelHandlers: [MalformedRequestResponder()])),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in
                logger.notice("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
        let workers = JobWorkers(
            registry: registry, count: settings.workers, leaseSeconds: settings.leaseSeconds, pollSeconds: settings.pollSeconds,
            metrics: metrics, logger: logger, afterJob: { caches.invalidateAfterWrite() })
        let hooks = HookDeliveries(registry: registry, settings: settings, metrics: metrics, logger: logger)
        // Shut down in reverse order: the HTTP server first (in-flight requests finish), then the workers, then the
        // webhook deliveries (the last alias moves still go out).
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: hooks), .init(service: workers), .init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        defer {
            caches.stop()
            executor.shutdown()
            transfers.shutdown()
            registry.pool.close()
            logger.notice("stopped")
        }
        try await group.run()
    }

    static func makeRouter(_ environment: ServerEnvironment) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestObservation(server: environment))
        for route in RouteTable.routes {
            router.on(RouterPath(stringLiteral: route.path), method: route.method) { request, context in
                var call = Call(request: request, context: context, route: route, server: environment)
                if route.isPage { return try await page(route, &call, request: request, context: context, environment: environment) }
                if route.scope != .none { try await call.authenticate() }
                guard route.method != .get && route.method != .head else { return try await route.handler(&call) }
                // A write: whatever it changed is visible to this server's next read at once.
                defer { environment.caches.invalidateAfterWrite() }
                return try await route.handler(&call)
            }
        }
        return router
    }

    /// A page of the read-only UI (`/ui`): its errors are pages too (the sign-in form for a missing or refused
    /// token). Pages change nothing in the catalog, so no cache is emptied after one.
    private static func page(_ route: Route, _ call: inout Call, request: Request, context: BasicRequestContext,
                             environment: ServerEnvironment) async throws -> Response {
        do {
            if route.scope != .none { try await call.authenticate() }
            return try await route.handler(&call)
        } catch let error as any NamedError {
            if ErrorStatus.status(for: error).code >= 500 {
                context.logger.error("page failed", metadata: ["code": "\(error.code)", "reason": "\(environment.redaction.redact(error.reason))"])
            }
            return Handlers.errorPage(error, request: request, server: environment)
        }
    }
}
