import Foundation
import ObjectStore
import QuiverCore
import Registry
import Testing

@Suite("Registry gc: unfinished uploads")
struct GCUploadTests {
    @Test func gcAbortsMultipartUploadsOlderThanGraceOnly() throws {
        try RegistryFixture.with { f in
            let kept = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
            // What a registration killed mid-upload leaves: an open multipart upload holding one part.
            let key = BlobKey.key(for: SHA256Digest.of(Data("weights of a crashed registration".utf8)))
            let uploadID = try f.s3.client.initiateMultipartUpload(key: key)
            _ = try f.s3.client.uploadPart(key: key, uploadID: uploadID, number: 1, data: Data(repeating: 3, count: 256 << 10))

            let young = try f.registry.collectGarbage(graceSeconds: 3600)
            #expect(young.abortedUploads.isEmpty && young.keptYoungUploads == 1)
            #expect(try f.s3.pendingUploads().map(\.uploadID) == [uploadID])

            f.clock.advance(by: 2)  // past the grace period; Initiated has one-second resolution.
            let dry = try f.registry.collectGarbage(graceSeconds: 0, dryRun: true)
            #expect(dry.abortedUploads.map(\.uploadID) == [uploadID] && dry.abortedUploads.map(\.key) == [key])
            #expect(try f.s3.pendingUploads().count == 1)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'gc.delete'") == 0)

            let swept = try f.registry.collectGarbage(graceSeconds: 0)
            #expect(swept.abortedUploads.map(\.uploadID) == [uploadID] && swept.keptYoungUploads == 0)
            #expect(swept.deleted.isEmpty)
            #expect(try f.s3.pendingUploads().isEmpty)
            // The event is written although no blob was deleted, and counts the aborted upload.
            #expect(try f.count("""
                SELECT count(*) FROM audit_events
                WHERE action = 'gc.delete' AND details->>'uploads_aborted' = '1' AND details->>'count' = '0'
                """) == 1)
            #expect(try f.registry.verify(kept).passed)
        }
    }
}
