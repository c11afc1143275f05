import Foundation
import QuiverCore
import Synchronization

extension S3Client {
    /// Uploads a file as a multipart upload: initiate, parts streamed from the file by
    /// `settings.uploadConcurrency` workers (``ParallelMap``), then complete. Any failure aborts the upload, so no
    /// orphaned parts are left on the server, and is rethrown.
    ///
    /// Parts are sent as `UNSIGNED-PAYLOAD` and S3 never sees the whole object's sha256, so while they go out
    /// another worker hashes the file and the upload is completed only when it hashes to `expected`; otherwise
    /// it is aborted with `.corruptBlob`. This re-reads the file (normally from the page cache, overlapped with
    /// the network) and catches both a wrong digest passed in and a file changed after it was hashed.
    func putObjectMultipart(key: String, path: String, size: Int64, expected: SHA256Digest) throws {
        let partSize = max(settings.partSize, 5 << 20)
        let count = Int((size + partSize - 1) / partSize)
        guard count <= 10_000 else {
            throw ObjectStoreError(.configuration, "\(path) needs \(count) parts of \(partSize) bytes; S3 allows 10000",
                                   hint: "raise the multipart part size")
        }
        let uploadID = try initiateMultipartUpload(key: key)
        do {
            let etags = try uploadParts(key: key, uploadID: uploadID, path: path, size: size, partSize: partSize,
                                        count: count, expected: expected)
            try completeMultipartUpload(key: key, uploadID: uploadID, etags: etags)
        } catch {
            try? abortMultipartUpload(key: key, uploadID: uploadID)
            throw error
        }
    }

    /// Starts a multipart upload of `key` (relative to the prefix) and returns its upload ID.
    public func initiateMultipartUpload(key: String) throws -> String {
        let full = objectKey(key)
        let initiated = try send("POST", objectKey: full, query: [("uploads", "")], body: .data(Data()))
        guard (200..<300).contains(initiated.status) else { throw failure(initiated, key: full, method: "POST uploads") }
        guard let uploadID = XMLScan.value("UploadId", in: Substring(String(decoding: initiated.body, as: UTF8.self))),
              !uploadID.isEmpty
        else {
            throw ObjectStoreError(.serverError, "InitiateMultipartUpload for \(describe(full)) returned no UploadId")
        }
        return uploadID
    }

    /// Uploads part `number` (1-based) of an open multipart upload and returns its ETag.
    public func uploadPart(key: String, uploadID: String, number: Int, data: Data) throws -> String {
        try uploadPart(objectKey: objectKey(key), uploadID: uploadID, number: number, body: .data(data))
    }

    func uploadPart(objectKey full: String, uploadID: String, number: Int, body: HTTPRequest.Body) throws -> String {
        let response = try send("PUT", objectKey: full, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                body: body, payloadHash: SigV4Signer.unsignedPayload)
        guard (200..<300).contains(response.status) else {
            throw failure(response, key: full, method: "PUT part \(number)")
        }
        guard let etag = response.headers["etag"], !etag.isEmpty else {
            throw ObjectStoreError(.serverError, "part \(number) of \(describe(full)) came back without an ETag")
        }
        return etag
    }

    /// Aborts a multipart upload, freeing its parts; an upload already gone (404 NoSuchUpload) is not an error.
    public func abortMultipartUpload(key: String, uploadID: String) throws {
        let full = objectKey(key)
        let response = try send("DELETE", objectKey: full, query: [("uploadId", uploadID)])
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw failure(response, key: full, method: "AbortMultipartUpload")
        }
    }

    /// Uploads the parts on `settings.uploadConcurrency` workers while another worker hashes the file; returns the
    /// ETags in part order. The first failing part (or a digest mismatch) stops the handing out of further parts;
    /// parts already in flight finish. A failed verification is the error reported, else the lowest failed part's.
    private func uploadParts(
        key: String, uploadID: String, path: String, size: Int64, partSize: Int64, count: Int, expected: SHA256Digest
    ) throws -> [String] {
        let full = objectKey(key)
        let verificationFailed = Atomic<Bool>(false)
        let (_, etags) = try ParallelMap.both({ [self] in
            let actual: SHA256Digest
            do {
                actual = try SHA256Digest.ofFile(at: URL(fileURLWithPath: path))
            } catch {
                verificationFailed.store(true, ordering: .releasing)
                throw ObjectStoreError(.io, "cannot hash \(path) while uploading it: \(error.localizedDescription)",
                                       hint: "do not move or modify files while storing them")
            }
            guard actual == expected else {
                verificationFailed.store(true, ordering: .releasing)
                throw ObjectStoreError(
                    .corruptBlob,
                    "\(path) hashes to \(actual.hex), not to sha256/\(expected.hex) it is being stored as in \(describe(full))",
                    hint: "the file changed after it was hashed, or the digest passed in is wrong; the upload was aborted")
            }
        }, { [self] in
            try ParallelMap.run(count: count, workers: settings.uploadConcurrency) { index in
                // The file does not hash to its digest: send no more parts (the upload is aborted).
                if verificationFailed.load(ordering: .acquiring) {
                    throw ObjectStoreError(.io, "upload abandoned after \(path) failed verification")
                }
                let offset = Int64(index) * partSize
                let length = min(partSize, size - offset)
                return try uploadPart(objectKey: full, uploadID: uploadID, number: index + 1,
                                      body: .file(path: path, offset: offset, length: length))
            }
        })
        return etags
    }

    private func completeMultipartUpload(key: String, uploadID: String, etags: [String]) throws {
        let full = objectKey(key)
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
