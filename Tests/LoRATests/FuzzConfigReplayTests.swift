import Foundation
import LoRA
import QuiverTesting
import Testing

/// Config inputs kept from fuzzing (`Tests/Fixtures/malformed/fuzz-config`, see scripts/fuzz.sh). A name starting
/// with `accepted__` must parse and survive write-then-read; any other prefix is the `LoRAError` kind it must raise.
@Suite("Fuzz-found adapter configs")
struct FuzzConfigReplayTests {
    static let cases: [URL] = {
        let directory = Fixtures.root.appendingPathComponent("malformed/fuzz-config")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0) }
    }()

    @Test("the corpus is present")
    func corpusPresent() {
        #expect(Self.cases.contains { $0.lastPathComponent.hasPrefix("accepted__") })
    }

    @Test("each kept input is refused with its named error or round-trips", arguments: cases)
    func replay(url: URL) throws {
        let data = try Data(contentsOf: url)
        let prefix = String(url.lastPathComponent.split(separator: "__")[0])
        guard prefix == "accepted" else {
            let kind = try #require(LoRAError.Kind(rawValue: prefix), "unknown kind prefix \(prefix)")
            let error = #expect(throws: LoRAError.self) { try AdapterConfig.parse(data, file: url.lastPathComponent) }
            #expect(error?.kind == kind, "\(url.lastPathComponent): \(error.map(String.init(describing:)) ?? "no error")")
            return
        }
        let config = try AdapterConfig.parse(data, file: url.lastPathComponent)
        let written = try config.jsonData()
        let again = try AdapterConfig.parse(written, file: "again")
        #expect(again == config, "write-then-read changed \(url.lastPathComponent)")
        #expect(try again.jsonData() == written, "writing is not stable for \(url.lastPathComponent)")
    }

    @Test("object key order inside unknown fields does not affect equality")
    func keyOrderIgnored() throws {
        let a = try AdapterConfig.parse(Data(#"{"peft_type": "LORA", "x": {"b": [{"d": 1, "c": 2}], "a": null}}"#.utf8), file: "a")
        let b = try AdapterConfig.parse(Data(#"{"peft_type": "LORA", "x": {"a": null, "b": [{"c": 2, "d": 1}]}}"#.utf8), file: "b")
        let c = try AdapterConfig.parse(Data(#"{"peft_type": "LORA", "x": {"a": null, "b": [{"c": 2, "d": 2}]}}"#.utf8), file: "c")
        #expect(a == b)
        #expect(a != c)
    }
}
