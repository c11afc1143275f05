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
        let call = read(["v1", "blobs", digest.hex])
        let bar = progress.transfer(.download, label: label, total: size)
        do {
            _ = try VerifiedRead.toFile(digest, file, location: connection.url(call)) { sink in
                let response = try connection.perform(call, sink: sink) { bar.update($0) }
                try connection.check(response, call, expected: [200])
            }
        } catch {
            bar.abandon()
            throw error
        }
        bar.finish()
    }
}
