/// Parses the durations the CLI accepts (`90s`, `30m`, `24h`, `7d`, or a bare number of seconds) into seconds.
public enum GraceDuration {
    public static func seconds(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(text)
        var multiplier: Int64 = 1
        if let last = text.last, let unit = units[last] {
            digits = text.dropLast()
            multiplier = unit
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int64(digits), value >= 0 else {
            throw RegistryError.invalidDuration(text)
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw RegistryError.invalidDuration(text) }
        return product
    }
}
