import Foundation
import LoRA
import ObjectStore
import QuiverCore
import Registry

extension QuiverClient {
    /// Downloads both files into a temporary sibling of `output`, each hashed as it streams and refused
    /// (`objectstore.corrupt_blob`) unless it matches the version's digest, then renames the directory into place.
    public func pull(_ ref: AdapterRef, to output: URL) throws -> AdapterVersion {
        try AtomicDirectory.requireAbsent(output)
        let version = try resolve(ref)
        try AtomicDirectory.write(to: output) { directory in
            try download(version.configDigest, size: version.configSize, label: LoRAAdapter.configFileName,
                         to: directory.appendingPathComponent(LoRAAdapter.configFileName))
            try download(version.weightsDigest, size: version.weightsSize, label: LoRAAdapter.weightsFileName,
                         to: directory.appendingPathComponent(LoRAAdapter.weightsFileName))
        }
        return version
    }

    /// `GET /v1/blobs/{sha256}` into `file`, verified.
    func download(_ digest: SHA256Digest, size: Int64, label: String, to file: URL) throws {
        var call = read(["v1", "blobs", digest.hex])
        // A server that presigns downloads answers 307 to the blob store: the bytes then do not pass through it.
        call.query = [("redirect", "true")]
        let bar = progress.transfer(.download, label: label, total: size)
        do {
            _ = try VerifiedRead.toFile(digest, file, location: connection.url(call)) { sink in
                let response = try connection.perform(call, sink: sink) { bar.update($0) }
                if response.status == 307, let location = response.headers["location"] {
                    let direct = try connection.performRedirected(to: location, call, sink: sink) { bar.update($0) }
                    guard direct.status == 200 else {
                        throw ClientError(.unavailable, "redirect_failed",
                                          "the blob store answered HTTP \(direct.status) to the presigned download of sha256/\(digest.hex)",
                                          hint: "the server's --presign-endpoint must be reachable from here; or start it without --presign-downloads")
                    }
                    return
                }
                try connection.check(response, call, expected: [200])
            }
        } catch {
            bar.abandon()
            throw error
        }
        bar.finish()
    }
}
