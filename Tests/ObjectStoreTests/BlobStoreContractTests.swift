import Foundation
import ObjectStore
import QuiverCore
import QuiverTesting
import Testing

/// The behaviour every BlobStore must have, run against the local directory store and the real SeaweedFS.
@Suite("BlobStore contract")
struct BlobStoreContractTests {
    @Test("put, head, get, getData, put-twice no-op, delete", arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        var generator = ByteGenerator(seed: 7)
        let bytes = generator.data(count: 300_001)
        let digest = SHA256Digest.of(bytes)

        #expect(try await sut.store.head(digest: digest) == nil)
        let first = try await sut.store.put(data: bytes)
        #expect(first == PutResult(digest: digest, size: 300_001, alreadyPresent: false))
        let second = try await sut.store.put(data: bytes)
        #expect(second.alreadyPresent)

        let info = try #require(try await sut.store.head(digest: digest))
        #expect(info.size == 300_001)
        #expect(abs(info.lastModified.timeIntervalSinceNow) < 600)
        #expect(try await sut.store.getData(digest: digest) == bytes)

        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out.bin")
        #expect(try await sut.store.get(digest: digest, to: out) == 300_001)
        #expect(try Data(contentsOf: out) == bytes)

        try await sut.store.delete(digest: digest)
        #expect(try await sut.store.exists(digest: digest) == false)
        try await sut.store.delete(digest: digest)  // idempotent
        let missing = await #expect(throws: ObjectStoreError.self) { try await sut.store.getData(digest: digest) }
        #expect(missing?.kind == .notFound)
    }

    @Test("put(fileAt:) with and without a known digest", arguments: StoreKind.allCases)
    func putFile(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("in.bin")
        var generator = ByteGenerator(seed: 11)
        let digest = try generator.writeFile(at: file, size: 1_234_567)

        let stored = try await sut.store.put(fileAt: file)
        #expect(stored == PutResult(digest: digest, size: 1_234_567, alreadyPresent: false))
        let again = try await sut.store.put(fileAt: file, digest: digest)
        #expect(again.alreadyPresent)
        #expect(try await sut.store.getData(digest: digest) == (try Data(contentsOf: file)))
    }

    @Test("ranged reads return exactly the requested bytes", arguments: StoreKind.allCases)
    func ranges(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        var generator = ByteGenerator(seed: 3)
        let bytes = generator.data(count: 10_000)
        let digest = try await sut.store.put(data: bytes).digest

        #expect(try await sut.store.getRange(digest: digest, range: 0..<8) == bytes.prefix(8))
        #expect(try await sut.store.getRange(digest: digest, range: 1000..<4321) == bytes[1000..<4321])
        #expect(try await sut.store.getRange(digest: digest, range: 9990..<10_000) == bytes.suffix(10))
        #expect(try await sut.store.getRange(digest: digest, range: 5..<5).isEmpty)
    }

    @Test("a tampered blob is detected as corruptBlob, and a partial download is removed", arguments: StoreKind.allCases)
    func corruption(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        let bytes = Data("the real adapter bytes".utf8)
        let digest = try await sut.store.put(data: bytes).digest
        try sut.tamper(digest, Data("something else entirely".utf8))

        let fromMemory = await #expect(throws: ObjectStoreError.self) { try await sut.store.getData(digest: digest) }
        #expect(fromMemory?.kind == .corruptBlob)
        #expect(fromMemory?.reason.contains(digest.hex) == true)

        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out.bin")
        let toFile = await #expect(throws: ObjectStoreError.self) { try await sut.store.get(digest: digest, to: out) }
        #expect(toFile?.kind == .corruptBlob)
        #expect(FileManager.default.fileExists(atPath: out.path) == false)
    }

    @Test("listing pages through every blob with continuation tokens", arguments: StoreKind.allCases)
    func listing(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        var expected: Set<SHA256Digest> = []
        for i in 0..<5 {
            expected.insert(try await sut.store.put(data: Data("blob number \(i)".utf8)).digest)
        }
        var pages = 0
        var seen: [BlobInfo] = []
        var token: String?
        repeat {
            let page = try await sut.store.listPage(hexPrefix: "", continuation: token, maxKeys: 2)
            #expect(page.blobs.count <= 2)
            seen += page.blobs
            token = page.continuation
            pages += 1
        } while token != nil && pages < 10
        #expect(pages == 3)
        #expect(Set(seen.map(\.digest)) == expected)
        #expect(seen.count == 5)
        #expect(seen.allSatisfy { abs($0.lastModified.timeIntervalSinceNow) < 600 && $0.size == Int64("blob number 0".utf8.count) })

        let one = try #require(expected.first)
        let byPrefix = try await sut.store.list(hexPrefix: String(one.hex.prefix(6)), pageSize: 2)
        #expect(byPrefix.map(\.digest) == [one])
    }

    @Test("the blocking API works off the cooperative pool too", arguments: StoreKind.allCases)
    func blockingAPI(kind: StoreKind) async throws {
        let sut = try Stores.make(kind)
        defer { sut.cleanUp() }
        let store = sut.store
        let result = try await BlockingExecutor.shared.run { () throws -> (PutResult, Data) in
            let put = try store.put(data: Data("blocking".utf8))
            return (put, try store.getData(digest: put.digest))
        }
        #expect(result.1 == Data("blocking".utf8))
    }
}
