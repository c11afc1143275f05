import Crypto
import Foundation

/// How a webhook body is signed, so its receiver can tell it came from this registry and is not a replay.
///
/// The signed material is `"<timestamp>.<body>"`: the decimal Unix time sent in `X-Quiver-Timestamp`, a full stop,
/// and the body's exact bytes. `X-Quiver-Signature` is `sha256=` and the lower-case hex HMAC-SHA256 of that
/// material under the hook's secret (the secret's UTF-8 bytes are the key). A receiver recomputes it, compares in
/// constant time, and refuses a timestamp more than a few minutes from its own clock; `X-Quiver-Delivery` (the
/// same on every retry) lets it drop a delivery it already handled.
public enum WebhookSignature {
    /// The `X-Quiver-Signature` value for `body` sent at `timestamp` (Unix seconds).
    public static func header(secret: String, timestamp: Int64, body: some DataProtocol) -> String {
        var material = Data("\(timestamp).".utf8)
        material.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: material, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `signature` is the header for `body` at `timestamp`, compared in constant time.
    public static func isValid(_ signature: String, secret: String, timestamp: Int64, body: some DataProtocol) -> Bool {
        let expected = Array(header(secret: secret, timestamp: timestamp, body: body).utf8), given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ given[index] }
        return difference == 0
    }
}
