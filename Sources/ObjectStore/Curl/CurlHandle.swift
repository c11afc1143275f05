import CCurl
import Foundation

/// Process-wide libcurl set-up, done once before the first handle exists.
enum CurlGlobal {
    /// `curl_global_init` is not thread-safe on every build, so it runs inside a Swift `static let` (swift_once).
    /// SIGPIPE is ignored because handles use `CURLOPT_NOSIGNAL` and a peer closing a socket mid-write would
    /// otherwise kill the process.
    static let initialized: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()
}

/// One libcurl easy handle and its error buffer.
///
/// `@unchecked Sendable`: a handle is only ever used by one thread at a time — ``CurlHandlePool`` hands each
/// handle to exactly one borrower (under its mutex) and takes it back after the transfer, so no two threads touch
/// `raw` or `errorBuffer` concurrently, which is libcurl's rule for easy handles.
final class CurlHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard CurlGlobal.initialized, let raw = curl_easy_init() else { return nil }
        self.raw = raw
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// Clears every option but keeps the connection cache, so the next request reuses the open connection.
    func reset() {
        curl_easy_reset(raw)
        errorBuffer[0] = 0
    }

    /// curl's message for the last failure: the error buffer when filled, else the generic text for `code`.
    func message(for code: CURLcode) -> String {
        let detail = String(cString: errorBuffer)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }
}
