import Postgres
import Testing

/// libpq repeats a malformed URL, or the component it could not decode, in its error message: the password must
/// not survive into the error Quiver shows.
@Suite("Postgres: no password in connection errors")
struct RedactionTests {
    @Test(arguments: [
        "postgresql://quiver:Hunter2Secret@[::1:5432/quiver",
        "postgresql://quiver:Hunter2%ZZSecret@127.0.0.1:1/quiver",
        "postgresql://quiver:Hunter2Secret@127.0.0.1:1/quiver?sslmode=bogus",
        "postgresql://quiver:Hunter2Secret@127.0.0.1:1/quiver",
    ])
    func theURLsPasswordIsMasked(url: String) {
        let error = #expect(throws: PostgresError.self) { _ = try PostgresConnection(url: url, connectTimeout: 2) }
        let shown = (error?.description ?? "") + (error?.message ?? "")
        #expect(!shown.isEmpty)
        #expect(!shown.contains("Hunter2") && !shown.contains("Secret"), "\(shown)")
    }
}
