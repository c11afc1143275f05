import Foundation

/// The number formats of Quiver's human-readable output, in one place so every command prints a value the same way.
///
/// All formats are locale-independent (`String(format:)` with the POSIX locale's `.` decimal separator).
public enum NumberFormat {
    /// A whole number without a decimal point (`16`, `-2`), anything else as Swift prints a `Double` (`0.5`,
    /// `1e-05`): LoRA alphas, scalings and merge weights read as they were written.
    public static func compact(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// `digits` decimals (`fixed(0.1234, 3)` is `0.123`); `sign` adds a `+` to non-negative values (`+0.123`).
    public static func fixed(_ value: Double, _ digits: Int, sign: Bool = false) -> String {
        String(format: "%\(sign ? "+" : "").\(digits)f", value)
    }

    /// `digits` significant digits, switching to exponent form for very small or large values (`%g`).
    public static func significant(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)g", value)
    }

    /// A fraction as a percentage with one decimal, right-aligned in 5 columns before the `%` (`" 42.0%"` is
    /// `percent(0.42)`); nil prints as a dash in the same width, so table columns line up.
    public static func percent(_ fraction: Double?) -> String {
        fraction.map { String(format: "%5.1f%%", $0 * 100) } ?? "    -"
    }

    /// A whole number padded with zeros to `width` digits (`zeroPadded(7, 4)` is `0007`: migration numbers).
    public static func zeroPadded(_ value: Int, _ width: Int) -> String {
        String(format: "%0\(width)d", value)
    }
}
