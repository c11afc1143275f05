import Postgres

/// The privileges of the application's database role, kept apart from the owner's.
///
/// The owner (the role that runs `quiver db migrate`) owns every table, so it can disable the audit trail's
/// append-only trigger; the server and workers connect as an application role that owns nothing and is granted
/// only what the use cases need: reading and writing the registry's tables, but on `audit_events` and
/// `lineage_parts` (what audits read) only SELECT and INSERT (no UPDATE, DELETE or TRUNCATE; ALTER needs ownership),
/// and on `schema_migrations` only SELECT (it can see that the schema is current, not change it).
public enum AppRole {
    /// The application role's privileges, in words, for the commands' help.
    public static let privilegesSummary = "read and write the registry, but only SELECT and INSERT on the audit trail"
    /// What the application role may not do to the audit trail, in words, for the commands' help.
    public static let auditRestrictions = "cannot UPDATE, DELETE, TRUNCATE or ALTER audit events, nor apply migrations"

    /// The line a command prints once ``grant(to:on:)`` granted `role` its privileges.
    public static func grantedSummary(_ role: String) -> String {
        "granted the application's privileges to \(role) (audit events: SELECT, INSERT only)"
    }

    /// Checks that `role` is a plain identifier (lower-case letters, digits, `_`, at most 63 bytes), so it can be
    /// written into GRANT statements, which take no bind parameters.
    public static func validate(_ role: String) throws {
        let allowed = role.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
        guard !role.isEmpty, role.utf8.count <= 63, allowed, let first = role.utf8.first, !(48...57).contains(first) else {
            throw CatalogError(kind: .invalidAppRole,
                               reason: "\(role.prefix(80).debugDescription) is not a role name Quiver grants to",
                               hint: "use lower-case letters, digits and '_' (at most 63), e.g. quiver_app")
        }
    }

    /// Grants `role` the application's privileges on every table and sequence the migrations created, and takes
    /// back the ones it must not have. Run as the owner after `migrate` (again after each new migration: `quiver
    /// db migrate --app-role` does). Refuses a role that is missing, a superuser, or the connected user itself.
    public static func grant(to role: String, on connection: PostgresConnection) throws {
        try validate(role)
        let found = try connection.query("""
            SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = \(role)
            """).decode((Bool, Bool).self)
        guard let (superuser, isOwner) = found.first else {
            throw CatalogError(kind: .invalidAppRole, reason: "role \(role) does not exist",
                               hint: "create it first: CREATE ROLE \(role) LOGIN PASSWORD '…'")
        }
        guard !superuser, !isOwner else {
            throw CatalogError(kind: .invalidAppRole,
                               reason: "role \(role) is \(superuser ? "a superuser" : "the connected (owner) role")",
                               hint: "the application role must be a plain role that owns nothing, or it could rewrite the audit trail")
        }
        try connection.transaction { tx in
            try tx.executeScript(SQLQuery(unsafeSQL: """
                GRANT USAGE ON SCHEMA public TO \(role);
                REVOKE CREATE ON SCHEMA public FROM \(role);
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(role);
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO \(role);
                REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM \(role);
                REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON lineage_parts FROM \(role);
                REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON schema_migrations FROM \(role);
                """))
        }
    }
}
