import Foundation
import QuiverCore
import Synchronization

extension S3Client {
    /// Uploads a file as a multipart upload: initiate, parts streamed from the file by
    /// `settings.uploadConcurrency` threads, then complete. Any failure aborts the upload, so no orphaned parts
    /// are left on the server, and is rethrown.
    func putObjectMultipart(key: String, path: String, size: Int64) throws {
        let full = objectKey(key)
        let partSize = max(settings.partSize, 5 << 20)
        let count = Int((size + partSize - 1) / partSize)
        guard count <= 10_000 else {
            throw ObjectStoreError(.configuration, "\(path) needs \(count) parts of \(partSize) bytes; S3 allows 10000",
                                   hint: "raise the multipart part size")
        }
        let initiated = try send("POST", objectKey: full, query: [("uploads", "")], body: .data(Data()))
        guard (200..<300).contains(initiated.status) else { throw failure(initiated, key: full, method: "POST uploads") }
        guard let uploadID = XMLScan.value("UploadId", in: Substring(String(decoding: initiated.body, as: UTF8.self))),
              !uploadID.isEmpty
        else {
            throw ObjectStoreError(.serverError, "InitiateMultipartUpload for \(describe(full)) returned no UploadId")
        }
        do {
            let etags = try uploadParts(objectKey: full, uploadID: uploadID, path: path, size: size, partSize: partSize, count: count)
            try complete(objectKey: full, uploadID: uploadID, etags: etags)
        } catch {
            _ = try? send("DELETE", objectKey: full, query: [("uploadId", uploadID)])
            throw error
        }
    }

    private func uploadParts(objectKey full: String, uploadID: String, path: String, size: Int64, partSize: Int64, count: Int)
        throws -> [String]
    {
        let state = PartProgress(count: count)
        let work: @Sendable () -> Void = { [self] in
            while let index = state.next() {
                let offset = Int64(index) * partSize
                let length = min(partSize, size - offset)
                do {
                    let response = try send(
                        "PUT", objectKey: full, query: [("partNumber", String(index + 1)), ("uploadId", uploadID)],
                        body: .file(path: path, offset: offset, length: length), payloadHash: SigV4Signer.unsignedPayload)
                    guard (200..<300).contains(response.status) else {
                        throw failure(response, key: full, method: "PUT part \(index + 1)")
                    }
                    guard let etag = response.headers["etag"], !etag.isEmpty else {
                        throw ObjectStoreError(.serverError, "part \(index + 1) of \(describe(full)) came back without an ETag")
                    }
                    state.finish(index, etag: etag)
                } catch {
                    state.fail(error)
                }
            }
        }
        let workers = max(1, min(settings.uploadConcurrency, count))
        let done = DispatchSemaphore(value: 0)
        for _ in 1..<workers {
            Thread { work(); done.signal() }.start()
        }
        work()
        for _ in 1..<workers { done.wait() }
        return try state.result()
    }

    private func complete(objectKey full: String, uploadID: String, etags: [String]) throws {
        var xml = "<CompleteMultipartUpload>"
        for (index, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(XMLScan.escape(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = Data(xml.utf8)
        let response = try send("POST", objectKey: full, query: [("uploadId", uploadID)],
                                headers: [("content-type", "application/xml")], body: .data(body),
                                payloadHash: SHA256Digest.of(body).hex)
        // S3 may answer 200 and still fail: the error then arrives in the body.
        let text = Substring(String(decoding: response.body, as: UTF8.self))
        guard (200..<300).contains(response.status), !text.contains("<Error>") else {
            var failed = response
            if failed.status < 300 { failed.status = 500 }
            throw failure(failed, key: full, method: "CompleteMultipartUpload")
        }
    }
}

/// Which parts are left to upload, their ETags, and the first failure (which stops the other workers).
private final class PartProgress: Sendable {
    private struct State {
        var next = 0
        var etags: [String?]
        var error: (any Error)?
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(etags: Array(repeating: nil, count: count))) }

    func next() -> Int? {
        state.withLock { s in
            guard s.error == nil, s.next < s.etags.count else { return nil }
            defer { s.next += 1 }
            return s.next
        }
    }

    func finish(_ index: Int, etag: String) { state.withLock { $0.etags[index] = etag } }

    func fail(_ error: any Error) { state.withLock { if $0.error == nil { $0.error = error } } }

    func result() throws -> [String] {
        try state.withLock { s in
            if let error = s.error { throw error }
            return s.etags.compactMap { $0 }
        }
    }
}
