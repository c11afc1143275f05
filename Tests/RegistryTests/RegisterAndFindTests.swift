import Synchronization
import Foundation
import LoRA
import ObjectStore
import QuiverCore
import QuiverTesting
import Registry
import SafeTensors
import Testing

@Suite("Registry: register, find, pull", .serialized)
struct RegisterAndFindTests {
    @Test func registerThenDedupe() throws {
        try RegistryFixture.with { f in
            let first = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone", tags: ["team": "nlp"])
            #expect(!first.existed)
            #expect(first.version.version == 1 && first.version.kind == .trained && first.version.rank == 8)
            #expect(first.version.createdBy == "tester")
            let again = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            #expect(again.existed && again.version.id == first.version.id)
            let second = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "tone")
            #expect(!second.existed && second.version.version == 2)
            #expect(try f.count("SELECT count(*) FROM adapter_versions") == 2)
            #expect(try f.count("SELECT count(*) FROM version_modules WHERE version_id = \(first.version.id)") == 4)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'version.register'") == 2)
            #expect(try f.s3.exists(digest: first.version.weightsDigest))
            #expect(try f.registry.resolve("tone").version == 2)
            #expect(try f.registry.resolve("tone@1").id == first.version.id)
            #expect(try f.registry.resolve(first.version.weightsDigest.hex).id == first.version.id)
        }
    }

    @Test func registeringIdenticalContentAgainRestoresBlobsTheStoreLost() throws {
        try RegistryFixture.with { f in
            let first = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            // The store loses both files behind the registry's back (moved, restored from an old backup...).
            try f.s3.delete(digest: first.version.weightsDigest)
            try f.s3.delete(digest: first.version.configDigest)
            #expect(try !f.registry.verify(first.version).passed)
            let again = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            #expect(again.existed && again.version.id == first.version.id)
            #expect(try f.s3.exists(digest: first.version.weightsDigest) && f.s3.exists(digest: first.version.configDigest))
            #expect(try f.registry.verify(first.version).passed)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'blob.restore' AND subject = 'tone@1'") == 1)
            // Nothing is missing now: registering again neither uploads nor audits a restore.
            _ = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'blob.restore'") == 1)
            #expect(try f.count("SELECT count(*) FROM adapter_versions") == 1)
        }
    }

    @Test func weightsWithNaNAreRefusedBeforeAnythingIsStored() throws {
        try RegistryFixture.with { f in
            let scratch = try Fixtures.temporaryDirectory("nan-adapter")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let damaged = scratch.appendingPathComponent("a1-nan", isDirectory: true)
            try FileManager.default.copyItem(at: RegistryFixture.golden("a1"), to: damaged)
            let weightsURL = damaged.appendingPathComponent("adapter_model.safetensors")
            let original = try SafeTensorsFile(contentsOf: RegistryFixture.golden("a1").appendingPathComponent("adapter_model.safetensors"))
            let victim = try #require(original.tensors.last?.name)
            let tensors = try original.tensors.map { info in
                var values = try original.floats(info.name)
                if info.name == victim { values[3] = .nan }
                return TensorToWrite(name: info.name, shape: info.shape, values: values, dtype: info.dtype)
            }
            try SafeTensorsWriter.write(tensors, metadata: original.metadata, to: weightsURL)

            let error = #expect(throws: LoRAError.self) { try f.registry.register(directory: damaged, name: "diverged") }
            #expect(error?.kind == .nonFiniteWeight)
            #expect(error?.detail.contains(victim) == true && error?.detail.contains("NaN at element 3") == true)
            #expect(try f.count("SELECT count(*) FROM adapter_versions") == 0)
            #expect(try f.count("SELECT count(*) FROM blobs") == 0)
            #expect(try f.s3.list().isEmpty)
        }
    }

    /// An adapter above the multipart threshold: its weights' chaining states are recorded with its blob, and a
    /// pull checks each parallel range against them as it arrives.
    @Test func aLargeAdapterRecordsItsWeightsChainAndPullChecksRangesWithIt() throws {
        try RegistryFixture.with { f in
            let scratch = try Fixtures.temporaryDirectory("large-adapter")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let large = try LargeAdapter.write(in: scratch)
            let weightsURL = large.appendingPathComponent("adapter_model.safetensors")
            let version = try f.registry.register(directory: large, name: "large").version
            #expect(version.weightsSize > 16 << 20)

            let recorded = try f.registry.catalog.read { try $0.blobs.chain(of: version.weightsDigest) }
            let bytes = try Data(contentsOf: weightsURL)
            let expected = SHA256Chain.digest(size: Int64(bytes.count)) { feed in bytes.withUnsafeBytes { feed($0) } }
            #expect(expected.digest == version.weightsDigest)
            if SHA256Chain.available {
                #expect(recorded != nil && recorded == expected.chain)
            }

            let out = scratch.appendingPathComponent("pulled")
            try f.registry.pull(version, to: out)
            #expect(try Data(contentsOf: out.appendingPathComponent("adapter_model.safetensors")) == bytes)

            // Other bytes of the same size: their range fails its check, the pull fails and leaves nothing.
            var altered = bytes
            altered[altered.count - 1000] ^= 0x01
            try f.tamper(version.weightsDigest, with: altered)
            let again = scratch.appendingPathComponent("again")
            let error = #expect(throws: (any Error).self) { try f.registry.pull(version, to: again) }
            #expect((error as? ObjectStoreError)?.kind == .corruptBlob)
            #expect(!FileManager.default.fileExists(atPath: again.path))
        }
    }

    /// The read leases the kernel lists on the file at `url` (`/proc/locks`).
    static func leases(on url: URL) throws -> Int {
        let inode = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? Int)
        return try String(contentsOfFile: "/proc/locks", encoding: .utf8).split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.contains("LEASE") && fields.contains { $0.hasSuffix(":\(inode)") }
        }.count
    }

    @Test("registering from a directory leases the weights before they are hashed and lets go once they are stored; a file written to in between is refused and nothing is recorded")
    func theWeightsAreLeasedFromHashingToStoring() throws {
        try RegistryFixture.with { f in
            let scratch = try Fixtures.temporaryDirectory("leased-adapter")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let large = try LargeAdapter.write(in: scratch)
            let weightsURL = large.appendingPathComponent("adapter_model.safetensors")
            #expect(try Registry.validateForRegistration(directory: large, name: "leased", tags: [:]).weightsLease == nil,
                    "no lease unless asked for")

            let adapter = try Registry.validateForRegistration(directory: large, name: "leased", tags: [:], holdingWeights: true)
            let lease = try #require(adapter.weightsLease, "a lease on a file of the temporary directory")
            #expect(lease.isIntact)
            #expect(try Self.leases(on: weightsURL) == 1)
            let version = try f.registry.register(validated: adapter, name: "leased").version
            #expect(adapter.weightsLease == nil && !lease.isIntact)
            #expect(try Self.leases(on: weightsURL) == 0)
            #expect(try f.s3.getData(digest: version.weightsDigest) == Data(contentsOf: weightsURL))

            // Hashed and leased, then written to before the upload: the lease is broken, the parts are checked,
            // the register refused; no version, no blob.
            let copy = scratch.appendingPathComponent("copy")
            try FileManager.default.copyItem(at: large, to: copy)
            let copyWeights = copy.appendingPathComponent("adapter_model.safetensors")
            var bytes = try Data(contentsOf: copyWeights)
            bytes[bytes.count - 8] ^= 0x01  // other content than the version above (a finite float still)
            try bytes.write(to: copyWeights)
            bytes[bytes.count - 4] ^= 0x01  // and the change after hashing: only the digest tells
            let changing = try Registry.validateForRegistration(directory: copy, name: "changed", tags: [:], holdingWeights: true)
            #expect(changing.weightsLease?.isIntact == true)
            let handle = try FileHandle(forWritingTo: copyWeights)
            try handle.seek(toOffset: UInt64(bytes.count - 4))
            try handle.write(contentsOf: bytes.suffix(4))
            try handle.close()
            #expect(changing.weightsLease?.isIntact == false)
            let error = #expect(throws: ObjectStoreError.self) { try f.registry.register(validated: changing, name: "changed") }
            #expect(error?.kind == .corruptBlob)
            #expect(try f.count("SELECT count(*) FROM adapters WHERE name = 'changed'") == 0)
            #expect(try !f.s3.exists(digest: changing.weightsDigest))
            #expect(try Self.leases(on: copyWeights) == 0)
        }
    }

    @Test func sixteenConcurrentRegistrationsCreateOneVersion() throws {
        try RegistryFixture.with { f in
            let results = Mutex16()
            let group = DispatchGroup()
            for _ in 0..<16 {
                group.enter()
                let thread = Thread {
                    defer { group.leave() }
                    results.add(Result { try f.registry.register(directory: RegistryFixture.golden("a1"), name: "same").version.id })
                }
                thread.start()
            }
            group.wait()
            let ids = try results.all.map { try $0.get() }
            #expect(ids.count == 16)
            #expect(Set(ids).count == 1)
            #expect(try f.count("SELECT count(*) FROM adapter_versions") == 1)
            #expect(try f.count("SELECT count(*) FROM audit_events WHERE action = 'version.register'") == 1)
        }
    }

    @Test func listFiltersAndPullVerifies() throws {
        try RegistryFixture.with { f in
            let a1 = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone", tags: ["team": "nlp"]).version
            _ = try f.registry.register(directory: RegistryFixture.golden("a4"), name: "wide", tags: ["team": "search"])
            _ = try f.registry.register(directory: RegistryFixture.golden("a7_otherbase"), name: "other")
            #expect(try f.registry.list(VersionFilter(rank: 4)).map(\.name) == ["wide"])
            #expect(try f.registry.list(VersionFilter(targetModule: "k_proj")).map(\.name) == ["wide"])
            #expect(try f.registry.list(VersionFilter(tags: ["team": "nlp"])).map(\.name) == ["tone"])
            let base = a1.baseModel
            #expect(Set(try f.registry.list(VersionFilter(baseModel: base)).map(\.name)) == ["tone", "wide"])
            let out = try Fixtures.temporaryDirectory("pull").appendingPathComponent("tone")
            try f.registry.pull(a1, to: out)
            let pulled = try LoRAAdapter.load(directory: out)
            #expect(pulled.canonicalDigest == a1.canonicalDigest && pulled.weightsDigest == a1.weightsDigest)
            // A corrupted blob fails the pull and leaves no directory behind.
            try f.tamper(a1.weightsDigest, with: Data("not the weights".utf8))
            let again = out.deletingLastPathComponent().appendingPathComponent("again")
            #expect(throws: (any Error).self) { try f.registry.pull(a1, to: again) }
            #expect(!FileManager.default.fileExists(atPath: again.path))
        }
    }
}

/// Collects results from threads.
final class Mutex16: Sendable {
    private let storage = Synchronization.Mutex<[Result<Int64, any Error>]>([])
    func add(_ result: Result<Int64, any Error>) { storage.withLock { $0.append(result) } }
    var all: [Result<Int64, any Error>] { storage.withLock { $0 } }
}

@Suite("Registry: digest references", .serialized)
struct DigestReferenceTests {
    @Test func sharedConfigDigestIsAmbiguousButWeightsAndCanonicalResolve() throws {
        try RegistryFixture.with { f in
            let a = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
            let b = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "json").version
            try #require(a.configDigest == b.configDigest)
            let error = try #require(throws: RegistryError.self) { try f.registry.resolve(a.configDigest.hex) }
            #expect(error.code == "registry.ambiguous_reference" && error.reason.contains("tone@1") && error.reason.contains("json@1"))
            #expect(try f.registry.resolve(b.weightsDigest.hex).id == b.id)
            #expect(try f.registry.resolve("sha256:" + b.canonicalDigest.hex).id == b.id)
            #expect(throws: RegistryError.self) { try f.registry.resolve(String(repeating: "0", count: 64)) }
        }
    }
}

@Suite("Registry: hostile registrations")
struct HostileRegistrationTests {
    @Test func aTagWithATerminalEscapeIsRefusedAndNothingRecorded() throws {
        try RegistryFixture.with { (f: RegistryFixture) throws in
            let error = #expect(throws: RegistryError.self) {
                try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone", tags: ["team": "\u{1B}]0;owned\u{7}"])
            }
            #expect(error?.code == "registry.invalid_tag")
            #expect(try f.count("SELECT count(*) FROM adapter_versions") == 0)
            #expect(try f.s3.list().isEmpty, "nothing uploaded")
        }
    }
}
