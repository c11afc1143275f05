/// PEFT's `target_modules`: a list of module-name suffixes, or one regular expression matched against the whole
/// module path.
public enum TargetModules: Sendable, Equatable {
    case list([String])
    case regex(String)

    /// PEFT's `check_target_module_exists` rule without the layer filters: a regex must match the whole path;
    /// a list entry must equal the path or be its last dot-separated part(s). `all-linear` matches everything,
    /// since the weights themselves then say which layers were adapted.
    public func matches(_ modulePath: String) -> Bool {
        switch self {
        case let .regex(pattern):
            if pattern == "all-linear" { return true }
            return PythonRegex.fullMatch(pattern, modulePath) ?? false
        case let .list(names):
            return names.contains { modulePath == $0 || modulePath.hasSuffix("." + $0) }
        }
    }
}
