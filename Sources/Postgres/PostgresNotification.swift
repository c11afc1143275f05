/// A notification delivered on a channel this connection listens to (`LISTEN channel`; sent by `NOTIFY` or
/// `pg_notify(channel, payload)` when the sending transaction commits).
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The sending backend's process id.
    public let processID: Int32

    public init(channel: String, payload: String, processID: Int32) {
        self.channel = channel
        self.payload = payload
        self.processID = processID
    }
}
