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

/// A constraint violation's detail repeats the row's values (a webhook's secret among them): the error keeps the
/// constraint's name and leaves the values out.
@Suite("constraint violations do not quote rows")
struct ConstraintDetailTests {
    @Test func failingRowsAndKeyValuesStayOutOfTheReason() {
        let check = PostgresError(.server, message: "new row for relation \"webhooks\" violates check constraint \"webhooks_url_check\"",
                                  sqlState: "23514", detail: "Failing row contains (3, http://T-, qwh_secret)", constraint: "webhooks_url_check")
        #expect(!check.reason.contains("qwh_secret") && check.reason.contains("webhooks_url_check"))
        let unique = PostgresError(.server, message: "duplicate key value violates unique constraint \"t_key\"",
                                   sqlState: "23505", detail: "Key (secret)=(qwh_secret) already exists.", constraint: "t_key")
        #expect(!unique.reason.contains("qwh_secret"))
        let other = PostgresError(.server, message: "m", sqlState: "XX000", detail: "something useful")
        #expect(other.reason.contains("something useful"))
    }
}
