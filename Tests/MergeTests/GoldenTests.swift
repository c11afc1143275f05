import Foundation
import LoRA
import QuiverTesting
import SafeTensors
import Testing
@testable import Merge

/// One case of peft-golden/manifest.json.
struct GoldenCase: Decodable, Sendable, CustomTestStringConvertible {
    let id: String
    let combinationType: String
    let adapters: [String]
    let weights: [Double]
    let params: [String: GoldenParam]
    let expectDir: String?
    let expectError: String?
    let quiverMustRefuse: String?

    var testDescription: String { id }

    enum CodingKeys: String, CodingKey {
        case id, adapters, weights, params
        case combinationType = "combination_type"
        case expectDir = "expect_dir"
        case expectError = "expect_error"
        case quiverMustRefuse = "quiver_must_refuse"
    }

    var mustRefuse: Bool { expectError != nil || quiverMustRefuse != nil }
}

/// A parameter value in the manifest: a number or a string.
enum GoldenParam: Decodable, Sendable {
    case number(Double), text(String)
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Double.self) { self = .number(value) } else { self = .text(try container.decode(String.self)) }
    }
    var number: Double? { if case let .number(v) = self { v } else { nil } }
    var text: String? { if case let .text(v) = self { v } else { nil } }
}

struct GoldenSlerpCase: Decodable, Sendable {
    let id: String
    let adapters: [String]
    let t: Double
    let expectFile: String
    enum CodingKeys: String, CodingKey { case id, adapters, t; case expectFile = "expect_file" }
}

struct GoldenManifest: Decodable, Sendable {
    let peftCases: [GoldenCase]
    let slerpCases: [GoldenSlerpCase]
    enum CodingKeys: String, CodingKey { case peftCases = "peft_cases"; case slerpCases = "slerp_cases" }

    static func load() throws -> GoldenManifest {
        let data = try Data(contentsOf: Fixtures.peftGolden.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(GoldenManifest.self, from: data)
    }
}

func goldenAdapter(_ name: String) throws -> LoRAAdapter {
    try LoRAAdapter.load(directory: Fixtures.peftGolden.appendingPathComponent("adapters/\(name)"))
}

@Suite("PEFT golden fixtures")
struct GoldenTests {
    static let cases: [GoldenCase] = (try? GoldenManifest.load().peftCases) ?? []

    func request(for c: GoldenCase, allowScaling: Bool) throws -> MergeRequest {
        let method = try #require(MergeMethod(rawValue: c.combinationType))
        return MergeRequest(
            method: method, weights: c.weights, density: c.params["density"]?.number,
            majoritySign: c.params["majority_sign_method"]?.text.flatMap(MajoritySignMethod.init(rawValue:)) ?? .total,
            svdRank: c.params["svd_rank"]?.number.map { Int($0) }, allowScalingMismatch: allowScaling)
    }

    @Test func manifestHasCases() throws {
        let manifest = try GoldenManifest.load()
        #expect(manifest.peftCases.count == Self.cases.count && Self.cases.count >= 20)
    }

    @Test(arguments: cases)
    func matchesPEFT(_ c: GoldenCase) throws {
        let adapters = try c.adapters.map(goldenAdapter)
        let scalings = Set(adapters.flatMap { $0.modules.map(\.scaling) })
        let request = try request(for: c, allowScaling: true)
        if c.mustRefuse {
            let error = try #require(throws: MergeError.self) { try MergeEngine.merge(inputs: adapters, request: request) }
            if let text = c.quiverMustRefuse { #expect(error.reason.contains(text), "\(error)") }
            if c.id == "linear_rank_mismatch" { #expect(error.kind == .rankMismatch) }
            #expect(!error.hint.isEmpty)
            return
        }
        // Factor-space methods fold different scalings only when asked to.
        if request.method.isFactorSpace && scalings.count > 1 {
            let strict = try self.request(for: c, allowScaling: false)
            let error = try #require(throws: MergeError.self) { try MergeEngine.merge(inputs: adapters, request: strict) }
            #expect(error.kind == .scalingMismatch)
        }
        let result = try MergeEngine.merge(inputs: adapters, request: request)
        let dir = Fixtures.peftGolden.appendingPathComponent(try #require(c.expectDir))
        let expected = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("adapter_model.safetensors"))
        let deltas = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("delta.safetensors"))
        let ours = Dictionary(uniqueKeysWithValues: result.tensors.map { ($0.name, $0) })
        #expect(result.report.modules.count == deltas.tensors.count)
        for module in result.report.modules {
            #expect(abs(result.config.scaling(for: module.path) - 1) < 1e-12, "effective scaling of \(module.path)")
            let keys = loraTensorKeys(modulePath: module.path)
            let a = try values(try #require(ours[keys.a])), b = try values(try #require(ours[keys.b]))
            let rank = module.rank
            let info = try #require(deltas.info(module.path))
            let (rows, cols) = (info.shape[0], info.shape[1])
            let productBA = LinearAlgebra.multiply(b, rows, rank, a, rank, cols)
            switch request.method {
            case .linear, .ties, .magnitudePrune:
                for (key, got) in [(keys.a, a), (keys.b, b)] {
                    let want = try expected.floats(key)
                    let scale = want.map(abs).max() ?? 1
                    let diff = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                    #expect(got.count == want.count && diff <= 1e-5 * scale, "\(key): max diff \(diff) of \(scale)")
                }
            case .cat, .svd:
                let want = try deltas.floats(module.path)
                if c.id == "svd_negative_cancel" {
                    let inputNorm = try adapters[0].factors(module.path)
                    let norm = productBA.reduce(0) { $0 + Double($1 * $1) }.squareRoot()
                    #expect(norm < 1e-5 * Double(inputNorm.b.map(abs).max() ?? 1), "\(module.path) should cancel")
                } else {
                    #expect(relativeError(productBA, want) <= 1e-4, "\(module.path)")
                }
            default:
                try checkDenseSVD(c, request: request, adapters: adapters, module: module, productBA: productBA,
                                  rows: rows, cols: cols, dir: dir)
            }
        }
        if c.id == "rslora_linear" { #expect(result.config.useRslora == false) }
        if c.id == "cat_pattern" {
            #expect(result.config.rank(for: "model.layers.1.self_attn.q_proj") == 12)
            #expect(result.config.rank(for: "model.layers.0.self_attn.q_proj") == 16)
        }
    }

    /// *_svd: our dense D equals PEFT's, and our rank-k error is within 0.1 % of PEFT's truncation.
    func checkDenseSVD(
        _ c: GoldenCase, request: MergeRequest, adapters: [LoRAAdapter], module: ModuleReport, productBA: [Float],
        rows: Int, cols: Int, dir: URL
    ) throws {
        let dense = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("dense.safetensors")).floats(module.path)
        let peft = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("delta.safetensors")).floats(module.path)
        let inputs = try module.inputs.map { index in
            let info = try #require(adapters[index].module(module.path))
            let (a, b) = try adapters[index].factors(module.path)
            return ModuleInput(index: index, a: a, b: b, rank: info.rank, scaling: info.scaling, weight: c.weights[index])
        }
        let rule = try #require(request.method.elementwise)
        let ours = DenseDeltaBuilder(request: request, rule: rule, path: module.path, rows: rows, cols: cols, inputs: inputs).build()
        #expect(relativeError(ours, dense) <= 1e-5, "dense delta of \(module.path)")
        func distance(_ x: [Float]) -> Double { zip(x, dense).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot() }
        let mine = distance(productBA), theirs = distance(peft)
        #expect(mine <= theirs * 1.001 + 1e-7, "\(module.path): ours \(mine) vs PEFT \(theirs)")
        if let reported = module.truncationError { #expect(abs(reported - mine) <= 1e-3 * max(mine, 1e-6)) }
    }

    @Test func slerpMatchesReference() throws {
        let manifest = try GoldenManifest.load()
        for c in manifest.slerpCases {
            let adapters = try c.adapters.map(goldenAdapter)
            let result = try MergeEngine.merge(inputs: adapters, request: MergeRequest(method: .slerp, t: c.t))
            let expected = try SafeTensorsFile(contentsOf: Fixtures.peftGolden.appendingPathComponent(c.expectFile))
            #expect(result.tensors.count == expected.tensors.count)
            for tensor in result.tensors {
                let want = try expected.floats(tensor.name)
                let got = try values(tensor)
                let scale = want.map(abs).max() ?? 1
                let diff = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                #expect(got.count == want.count && diff <= 1e-5 * scale, "\(tensor.name)")
            }
            #expect(result.config.r == adapters[0].config.r && result.config.loraAlpha == adapters[0].config.loraAlpha)
        }
    }

    @Test func mergedAdapterRoundTripsThroughTheWriter() throws {
        let adapters = try ["a1", "a10_mlp"].map(goldenAdapter)
        let result = try MergeEngine.merge(inputs: adapters, request: MergeRequest(method: .cat, weights: [1, 0.5]))
        let dir = try Fixtures.temporaryDirectory("merge-roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        try LoRAWriter.write(config: result.config, tensors: result.tensors, metadata: result.metadata, to: dir)
        let reloaded = try LoRAAdapter.load(directory: dir)
        #expect(reloaded.modules.count == result.report.modules.count)
        #expect(reloaded.modules.allSatisfy { abs($0.scaling - 1) < 1e-12 })
        #expect(reloaded.weights.metadata["quiver.method"] == "cat")
        #expect(reloaded.weights.metadata["quiver.inputs"]?.split(separator: ",").count == 2)
        let request = try JSONDecoder().decode(
            MergeRequest.self, from: Data(try #require(reloaded.weights.metadata["quiver.request"]).utf8))
        #expect(request.weights == [1, 0.5])
    }
}

/// The Float32 values of a tensor built for writing.
func values(_ tensor: TensorToWrite) throws -> [Float] {
    guard case let .floats(values) = tensor.payload else { throw MergeError(.input, "raw tensor \(tensor.name)") }
    return values
}
