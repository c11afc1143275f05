import Postgres

/// Evaluation results recorded per version.
public struct EvaluationStore: Sendable {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// A version's evaluations, in recording order.
    public func of(versionID: Int64) throws -> [Evaluation] {
        try connection.query("SELECT suite, metric, value, higher_is_better FROM evaluations WHERE version_id = \(versionID) ORDER BY at, id").map {
            Evaluation(suite: try $0.decode(String.self, at: 0), metric: try $0.decode(String.self, at: 1),
                       value: try $0.decode(Double.self, at: 2), higherIsBetter: try $0.decode(Bool.self, at: 3))
        }
    }

    public func record(versionID: Int64, _ evaluation: Evaluation, by actor: String) throws {
        try connection.query("""
            INSERT INTO evaluations (version_id, suite, metric, value, higher_is_better, recorded_by)
            VALUES (\(versionID), \(evaluation.suite), \(evaluation.metric), \(evaluation.value), \(evaluation.higherIsBetter), \(actor))
            """)
    }
}
