import Foundation

/// A DSSE envelope (https://github.com/secure-systems-lab/dsse, protocol v1): a payload, its type and signatures
/// over the pre-authentication encoding (``pae(payloadType:payload:)``) of the two, never over the payload alone.
///
/// Its JSON is the spec's: `payload` and `sig` in standard base64; `keyid` is the sha256 (hex) of the signing key's
/// public PEM, which is also the key hint of the OpenSSF model-signing bundle.
public struct DSSEEnvelope: Codable, Sendable, Equatable {
    public struct Signature: Codable, Sendable, Equatable {
        public let keyid: String
        /// The DER-encoded ECDSA signature, base64.
        public let sig: String

        public init(keyid: String, sig: String) {
            self.keyid = keyid
            self.sig = sig
        }
    }

    /// The in-toto payload type, the only one Quiver signs or accepts.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public let payloadType: String
    /// The payload, base64.
    public let payload: String
    public let signatures: [Signature]

    public init(payloadType: String, payload: String, signatures: [Signature]) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// DSSE's pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII
    /// decimals of byte counts.
    public static func pae(payloadType: String, payload: Data) -> Data {
        var out = Data("DSSEv1 \(payloadType.utf8.count) \(payloadType) \(payload.count) ".utf8)
        out.append(payload)
        return out
    }

    /// Signs `payload` with `key`: the envelope with one signature.
    public static func sign(payload: Data, payloadType: String = inTotoPayloadType, with key: SigningKey) throws -> DSSEEnvelope {
        let signature = try key.sign(pae(payloadType: payloadType, payload: payload))
        return DSSEEnvelope(
            payloadType: payloadType, payload: payload.base64EncodedString(),
            signatures: [Signature(keyid: key.publicKey.keyID, sig: signature.base64EncodedString())])
    }

    /// The payload's bytes once a signature verifies with `key`; throws `provenance.bad_signature` (integrity)
    /// otherwise, `provenance.malformed_attestation` when the envelope cannot be decoded.
    public func verifiedPayload(with key: PublicKey, what: String = "the attestation") throws -> Data {
        guard payloadType == Self.inTotoPayloadType else {
            throw ProvenanceError.malformed("\(what) has payloadType '\(payloadType.prefix(80))', not \(Self.inTotoPayloadType)")
        }
        guard let bytes = Data(base64Encoded: payload) else { throw ProvenanceError.malformed("the payload of \(what) is not base64") }
        guard !signatures.isEmpty else { throw ProvenanceError.malformed("\(what) carries no signature") }
        let message = Self.pae(payloadType: payloadType, payload: bytes)
        for signature in signatures {
            if let der = Data(base64Encoded: signature.sig), key.isValid(signature: der, for: message) { return bytes }
        }
        throw ProvenanceError.badSignature(what)
    }

    /// The envelope as one line of compact JSON with a final newline (the `.intoto.jsonl` form).
    public func jsonLine() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// Reads an envelope from JSON text or JSON lines (the first non-empty line); any failure is
    /// `provenance.malformed_attestation` (integrity: a damaged attestation fails verification).
    public static func parse(_ data: Data, what: String = "the attestation") throws -> DSSEEnvelope {
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var candidates = [text]
        if let first = text.split(separator: "\n").first, String(first) != text { candidates.append(String(first)) }
        for candidate in candidates {
            if let envelope = try? JSONDecoder().decode(DSSEEnvelope.self, from: Data(candidate.utf8)) { return envelope }
        }
        throw ProvenanceError.malformed("\(what) is not a DSSE envelope (JSON with payloadType, payload, signatures)")
    }
}
