import Foundation

/// Removes secrets from text a user or a log will see (error messages, hints).
///
/// Two passes: every known secret value is replaced wherever it occurs, then passwords are masked by shape —
/// the password of a `scheme://user:password@host` URL and a libpq `password=…` setting — so a secret that
/// reached a message some other way (a URL echoed back by a library) is caught too.
public struct SecretRedaction: Sendable {
    /// The literal values to hide (at least 4 characters: shorter ones would mask ordinary words).
    public let secrets: [String]

    /// Secrets found in `environment` (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `PGPASSWORD`, `QUIVER_TOKEN` and the
    /// passwords of the database URLs) and in URLs among `arguments` (`--database-url postgresql://u:p@h/db`).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, arguments: [String] = []) {
        var found = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD", "QUIVER_TOKEN"].compactMap { environment[$0] }
        let urls = ["QUIVER_DATABASE_URL", "DATABASE_URL"].compactMap { environment[$0] } + arguments
        found += urls.compactMap(Self.password(inURL:))
        self.init(secrets: found)
    }

    /// Hides exactly these values (plus the by-shape masking of ``redact(_:)``).
    public init(secrets: [String]) {
        // Longest first, so a secret containing another is replaced whole.
        self.secrets = Array(Set(secrets.filter { $0.count >= 4 })).sorted { $0.count > $1.count }
    }

    /// `text` with every secret replaced by `***`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets {
            result = result.replacingOccurrences(of: secret, with: "***")
            // A URL carries its password percent-encoded; hide that spelling too.
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed), encoded != secret {
                result = result.replacingOccurrences(of: encoded, with: "***")
            }
        }
        return Self.maskByShape(result)
    }

    /// The password of `scheme://user:password@host…`, percent-decoded; nil when there is none.
    static func password(inURL text: String) -> String? {
        guard text.contains("://"), let components = URLComponents(string: text), let password = components.password,
              !password.isEmpty
        else { return nil }
        return password.removingPercentEncoding ?? password
    }

    /// `scheme://user:secret@` → `scheme://user:***@`, and `password=secret` → `password=***`.
    static func maskByShape(_ text: String) -> String {
        var result = text
        let patterns = [
            (#"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"#, "$1***@"),
            (#"(password\s*=\s*)('[^']*'|[^\s'"]+)"#, "$1***"),
        ]
        for (pattern, template) in patterns {
            guard let expression = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) else { continue }
            let range = NSRange(result.startIndex..., in: result)
            result = expression.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return result
    }
}
