import Foundation
import LoRA
import QuiverCore
import SafeTensors

/// What `quiver inspect` reports; the JSON form is this structure with sorted keys.
struct InspectReport: Encodable {
    struct Module: Encodable {
        let path: String
        let kind: String
        let rank: Int
        let alpha: Double
        let scaling: Double
        let inFeatures: Int
        let outFeatures: Int
        let shapeA: [Int]
        let shapeB: [Int]
        let dtype: String
        let dora: Bool
        let parameters: Int
    }

    struct File: Encodable {
        let name: String
        let bytes: Int
        let sha256: String?
    }

    let directory: String
    let baseModel: String?
    let revision: String?
    let peftType: String
    let taskType: String?
    let r: Int
    let loraAlpha: Double
    let scaling: Double
    let useRslora: Bool
    let useDora: Bool
    let fanInFanOut: Bool
    let targetModules: [String]
    let targetModulesRegex: String?
    let rankPattern: [String: Int]
    let alphaPattern: [String: Double]
    let modulesToSave: [String]?
    let dtypes: [String]
    let parameterCount: Int
    let modules: [Module]
    let files: [File]
    let canonicalDigest: String?

    init(_ adapter: LoRAAdapter, digests: Bool) {
        let config = adapter.config
        directory = adapter.directory.path
        baseModel = config.baseModelNameOrPath
        revision = config.revision
        peftType = config.peftType
        taskType = config.taskType
        r = config.r
        loraAlpha = config.loraAlpha
        scaling = config.useRslora ? config.loraAlpha / Double(config.r).squareRoot() : config.loraAlpha / Double(config.r)
        useRslora = config.useRslora
        useDora = config.useDora
        fanInFanOut = config.fanInFanOut
        switch config.targetModules {
        case let .list(names): targetModules = names; targetModulesRegex = nil
        case let .regex(pattern): targetModules = []; targetModulesRegex = pattern
        }
        rankPattern = config.rankPattern
        alphaPattern = config.alphaPattern
        modulesToSave = config.modulesToSave
        dtypes = Array(Set(adapter.weights.tensors.map(\.dtype.rawValue))).sorted()
        parameterCount = adapter.parameterCount
        modules = adapter.modules.map { module in
            Module(
                path: module.path, kind: module.kind.rawValue, rank: module.rank, alpha: module.alpha, scaling: module.scaling,
                inFeatures: module.inFeatures, outFeatures: module.outFeatures,
                shapeA: adapter.weights.info(module.keyA)?.shape ?? [], shapeB: adapter.weights.info(module.keyB)?.shape ?? [],
                dtype: module.dtype.rawValue, dora: module.magnitudeKey != nil, parameters: module.parameterCount)
        }
        files = [
            File(name: LoRAAdapter.configFileName, bytes: adapter.configBytes.count, sha256: adapter.configDigest.hex),
            File(name: LoRAAdapter.weightsFileName, bytes: adapter.weights.fileSize, sha256: digests ? adapter.weightsDigest.hex : nil),
        ]
        canonicalDigest = digests ? adapter.canonicalDigest.hex : nil
    }

    var text: String {
        let number = NumberFormat.compact
        var lines: [String] = []
        lines.append("adapter        \(directory)")
        lines.append("base model     \(baseModel ?? "(none)")\(revision.map { " @ \($0)" } ?? "")")
        lines.append("peft type      \(peftType)\(taskType.map { " (\($0))" } ?? "")")
        lines.append("r / alpha      \(r) / \(number(loraAlpha))  scaling \(number(scaling))\(useRslora ? " (rsLoRA: alpha/sqrt(r))" : "")")
        lines.append("flags          rsLoRA \(useRslora ? "yes" : "no"), DoRA \(useDora ? "yes" : "no"), fan_in_fan_out \(fanInFanOut ? "yes" : "no")")
        lines.append("targets        \(targetModulesRegex.map { "regex \($0)" } ?? targetModules.joined(separator: ", "))")
        if !rankPattern.isEmpty { lines.append("rank_pattern   \(rankPattern.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))") }
        if !alphaPattern.isEmpty { lines.append("alpha_pattern  \(alphaPattern.sorted { $0.key < $1.key }.map { "\($0.key)=\(number($0.value))" }.joined(separator: ", "))") }
        if let modulesToSave { lines.append("modules_to_save \(modulesToSave.joined(separator: ", "))") }
        lines.append("parameters     \(parameterCount) (\(dtypes.joined(separator: ", ")))")
        for file in files {
            lines.append("file           \(file.name)  \(file.bytes) bytes  sha256 \(file.sha256 ?? "(skipped)")")
        }
        lines.append("canonical      \(canonicalDigest ?? "(skipped)")")
        lines.append("modules        \(modules.count)")
        for module in modules {
            lines.append(
                "  \(module.path)  \(module.kind) r=\(module.rank) alpha=\(number(module.alpha)) scaling=\(number(module.scaling)) "
                    + "A\(module.shapeA) B\(module.shapeB) \(module.dtype)\(module.dora ? " +magnitude" : "")")
        }
        return lines.joined(separator: "\n")
    }
}
