import Foundation
import QuiverTesting
import SafeTensors
import Testing

/// `Tests/Fixtures/malformed/*.safetensors`: each name starts with the expected error kind's code, then `__`.
let malformedFiles: [URL] = {
    let directory = Fixtures.root.appendingPathComponent("malformed")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".safetensors") }.sorted().map { directory.appendingPathComponent($0) }
}()

@Suite("Malformed safetensors files")
struct MalformedFileTests {
    @Test("the malformed corpus covers every validation rule")
    func corpusCoversRules() {
        let kinds = Set(malformedFiles.map { String($0.lastPathComponent.split(separator: "__")[0]) })
        let rules: [SafeTensorsError.Kind] = [
            .fileTooSmall, .headerTooLarge, .headerBeyondFile, .malformedJSON, .duplicateKey, .invalidTensorEntry, .unknownDType,
            .invalidShape, .invalidOffsets, .shapeOverflow, .sizeMismatch, .offsetsOutOfFile, .overlappingTensors,
            .holeBetweenTensors, .trailingBytes, .invalidMetadata,
        ]
        for rule in rules { #expect(kinds.contains(rule.rawValue), "no malformed file for \(rule)") }
    }

    @Test("each malformed file fails with its named error", arguments: malformedFiles)
    func refusesWithNamedError(url: URL) throws {
        let expected = String(url.lastPathComponent.split(separator: "__")[0])
        let kind = try #require(SafeTensorsError.Kind(rawValue: expected), "unknown kind prefix \(expected)")
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url) }
        #expect(error?.kind == kind, "\(url.lastPathComponent): \(error.map(String.init(describing:)) ?? "no error")")
        #expect(error?.description.contains(url.lastPathComponent) == true)
    }

    @Test("errors name the tensor at fault")
    func errorsNameTheTensor() throws {
        let url = Fixtures.root.appendingPathComponent("malformed/size_mismatch__too_short.safetensors")
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url) }
        #expect(error?.tensor == "t")
        #expect(error?.reason.contains("needs 12 bytes") == true)
    }

    @Test("a missing file is a named error, not a crash")
    func missingFile() {
        #expect(throws: SafeTensorsError(.fileUnreadable, file: "", "")) {
            try SafeTensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/x.safetensors"))
        }
    }

    @Test("every truncation of a valid file is refused with a named error")
    func truncations() throws {
        let url = Fixtures.peftGolden.appendingPathComponent("adapters/a1/adapter_model.safetensors")
        let bytes = try [UInt8](Data(contentsOf: url))
        let directory = try Fixtures.temporaryDirectory("st-trunc")
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("cut.safetensors")
        for length in stride(from: 0, to: bytes.count, by: 97) {
            try Data(bytes[0..<length]).write(to: out)
            #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: out) }
        }
    }
}

@Suite("Strict JSON parser")
struct StrictJSONParserTests {
    @Test("accepts valid JSON and keeps order and number text")
    func acceptsValid() throws {
        let value = try StrictJSONParser.parse(Array(#" {"b": [1, -2.50e+3, true, null], "a": "\u00e9\ud83d\ude00\n"} "#.utf8))
        guard case let .object(members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["b", "a"])
        #expect(value["b"] == .array([.number("1"), .number("-2.50e+3"), .bool(true), .null]))
        #expect(value["a"] == .string("é😀\n"))
    }

    @Test("rejects what Foundation accepts", arguments: [
        #"{"a":1,"a":2}"#, #"{"a":1,}"#, "[1,]", "01", "1.", ".5", "+1", "NaN", #""\x""#, #""\ud800""#, "\"\u{01}\"", "{} {}", "",
        #"{"a"}"#, "[1 2]", "tru", "\"abc",
    ])
    func rejectsInvalid(text: String) {
        #expect(throws: StrictJSONParser.Failure.self) { try StrictJSONParser.parse(Array(text.utf8)) }
    }
}
