/// A store's result columns as (SQL expression, name) pairs, written once and used two ways: as a select list, or
/// as one JSON row of text values inside a larger statement (``PostgresRows/init(jsonRows:columns:)``), so a
/// statement can return several stores' rows in one round trip and each store's decoder reads them unchanged.
struct ColumnList: Sendable {
    let fields: [(expression: String, name: String)]

    init(_ fields: [(String, String)]) {
        self.fields = fields.map { (expression: $0.0, name: $0.1) }
    }

    /// `expression AS name, …`
    var selectList: String {
        fields.map { "\($0.expression) AS \($0.name)" }.joined(separator: ", ")
    }

    /// `json_build_array((expression)::text, …)`: each value in its text output form, as the row protocol sends it.
    var jsonRow: String {
        "json_build_array(" + fields.map { "(\($0.expression))::text" }.joined(separator: ", ") + ")"
    }

    var names: [String] { fields.map(\.name) }
}
