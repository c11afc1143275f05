import QuiverCore

/// An option value that is malformed on its own (a tag without `=`, a digest that is not 64 hex characters),
/// thrown from a command's `validate()`, so it ends as a usage error (status 64) before anything is opened.
///
/// Values the registry or engine own keep the owner's error and code (`registry.invalid_name`,
/// `merge.bad_parameter`); this type covers what only the command line defines.
struct OptionError: NamedError, Equatable {
    let code: String
    let reason: String
    let hint: String
    var errorKind: ErrorKind { .invalidInput }

    init(_ code: String, _ reason: String, hint: String = "") {
        self.code = "cli.\(code)"
        self.reason = reason
        self.hint = hint
    }
}
