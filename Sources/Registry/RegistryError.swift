import QuiverCore

/// Failures of the registry's use cases, each naming the adapter or reference involved and what to do.
public struct RegistryError: NamedError, Equatable {
    public let errorKind: ErrorKind
    public let code: String
    public let reason: String
    public let hint: String

    public init(_ kind: ErrorKind, code: String, reason: String, hint: String = "") {
        self.errorKind = kind
        self.code = code
        self.reason = reason
        self.hint = hint
    }

    public static func == (lhs: RegistryError, rhs: RegistryError) -> Bool { lhs.code == rhs.code }

    static func invalidReference(_ text: String, why: String) -> RegistryError {
        RegistryError(
            .invalidInput, code: "registry.invalid_reference", reason: "'\(shown(text))' is not an adapter reference: \(why)",
            hint: "write NAME, NAME@VERSION, NAME@ALIAS or a 64-hex sha256 digest")
    }

    static func invalidName(_ name: String, why: String) -> RegistryError {
        RegistryError(.invalidInput, code: "registry.invalid_name", reason: "'\(shown(name))' is not a valid adapter name: \(why)")
    }

    /// A user's text as an error shows it: control characters escaped, and cut after 80 characters (a 100 kB name
    /// is not echoed back whole).
    static func shown(_ text: String) -> String {
        let cut = text.unicodeScalars.count > 80 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(80))) + "… (\(text.utf8.count) bytes)" : text
        return TerminalText.escape(cut)
    }

    static func invalidDuration(_ text: String) -> RegistryError {
        RegistryError(
            .invalidInput, code: "registry.invalid_duration", reason: "'\(text)' is not a duration",
            hint: "write a whole number followed by s, m, h or d, e.g. 24h")
    }

    static func notFound(_ what: String, hint: String = "run 'quiver list' to see the registered adapters") -> RegistryError {
        RegistryError(.notFound, code: "registry.not_found", reason: what, hint: hint)
    }

    static func `internal`(_ what: String) -> RegistryError {
        RegistryError(.internal, code: "registry.internal", reason: what)
    }
}
