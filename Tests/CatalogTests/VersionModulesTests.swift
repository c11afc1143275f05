import Foundation
import QuiverCore
import Testing
@testable import Catalog

/// `VersionStore.insert` records every module in one statement (its columns sent as arrays): what is read back is
/// what was written, for paths and values an array literal must escape and floats that must round-trip exactly.
@Suite("Version modules")
struct VersionModulesTests {
    @Test func modulesRoundTripThroughOneArrayInsert() throws {
        let awkward = ["model.layers.0.self_attn.q_proj", #"a "quoted", {braced} path"#, #"back\slash"#, "NULL", "ü 中", " spaced "]
        let values: [Double] = [16, 0.1, 1e-05, 1.0 / 3.0, 123_456.789, Double.leastNormalMagnitude]
        let modules = zip(awkward, values).enumerated().map { index, pair in
            RecordedModule(path: pair.0, rank: index + 1, alpha: pair.1, scaling: pair.1 / Double(index + 1),
                           inFeatures: 4096 + index, outFeatures: 11_008 - index, dtype: index.isMultiple(of: 2) ? "F32" : "BF16")
        }
        try withScratchCatalog { catalog in
            for (name, recorded) in [("many", modules), ("none", [])] {
                let version = try catalog.transaction { tx in
                    let new = NewVersion(
                        name: name, kind: .trained, peftType: "LORA", baseModel: "base", baseRevision: "", rank: 8, loraAlpha: 16,
                        useRslora: false, useDora: false, targetModules: ["q_proj"], config: "{}",
                        canonicalDigest: SHA256Digest.of(Array("c\(name)".utf8)), configDigest: SHA256Digest.of(Array("config".utf8)),
                        configSize: 2, weightsDigest: SHA256Digest.of(Array("w\(name)".utf8)), weightsSize: 10, tags: [:],
                        modules: recorded, createdBy: "tester")
                    try tx.blobs.record(new.configDigest, size: new.configSize)
                    try tx.blobs.record(new.weightsDigest, size: new.weightsSize)
                    return try tx.versions.insert(new)
                }
                let read = try catalog.read { try $0.versions.modules(versionID: version.id) }
                // Compared in Swift's order: the query's ORDER BY follows the database's collation.
                #expect(read.sorted { $0.path < $1.path } == recorded.sorted { $0.path < $1.path }, "\(name)")
            }
        }
    }
}
