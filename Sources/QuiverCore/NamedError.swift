/// An error that names what is wrong, where, and what to do about it.
///
/// Every module's error type conforms, so the CLI (and later the HTTP API) can print any failure the same way:
/// a stable `code` for machines, a `reason` for people, and a `hint` saying what to do next.
public protocol NamedError: Error, CustomStringConvertible, Sendable {
    /// A stable, dotted machine-readable code such as `safetensors.header_too_large`.
    var code: String { get }
    /// What is wrong, naming the file, tensor, module or adapter involved.
    var reason: String { get }
    /// What the user can do about it; empty when there is nothing useful to say.
    var hint: String { get }
    /// What sort of failure this is (refusal, not found, invalid input, ...), for exit codes and HTTP statuses.
    var errorKind: ErrorKind { get }
}

extension NamedError {
    public var description: String {
        hint.isEmpty ? "\(code): \(reason)" : "\(code): \(reason)\nhint: \(hint)"
    }
}
