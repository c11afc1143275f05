import Foundation
import QuiverCore
import SafeTensors

#if canImport(Glibc)
import Glibc
#endif

extension LoRAAdapter {
    /// The file names PEFT uses inside an adapter directory.
    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "adapter_model.safetensors"
    public static let pickleFileName = "adapter_model.bin"

    /// Opens and validates a PEFT adapter directory.
    ///
    /// Every tensor must be a LoRA factor, a DoRA magnitude, a `lora_B` bias or a `modules_to_save` copy; factors
    /// pair up per module and their shapes agree with the module's effective rank.
    /// - Throws: ``LoRAError`` or ``SafeTensorsError`` naming the file, module or tensor at fault.
    /// The largest `adapter_config.json` read (PEFT writes about a kilobyte; a long module list stays far below).
    public static let maxConfigBytes = 4 << 20

    public static func load(directory: URL) throws -> LoRAAdapter {
        let name = directory.lastPathComponent
        let configURL = directory.appendingPathComponent(configFileName)
        let weightsURL = directory.appendingPathComponent(weightsFileName)
        let manager = FileManager.default
        for file in [configURL, weightsURL] { try requireInside(file, directory: directory, name: name) }
        guard manager.fileExists(atPath: weightsURL.path) else {
            if manager.fileExists(atPath: directory.appendingPathComponent(pickleFileName).path) {
                throw LoRAError(.pickleRefused, at: name, "the weights are in adapter_model.bin (a pickle), not adapter_model.safetensors")
            }
            throw LoRAError(.missingWeights, at: name, "no \(weightsFileName) in \(directory.path)")
        }
        let configBytes: Data
        do {
            configBytes = try RegularFile.read(configURL.path, limit: maxConfigBytes)
        } catch where error.reasonKind == .unreadable {
            throw LoRAError(.missingConfig, at: name, "no readable \(configFileName) in \(directory.path)")
        } catch {
            throw LoRAError(.malformedConfig, at: "\(name)/\(configFileName)", error.detail)
        }
        let config = try AdapterConfig.parse(configBytes, file: "\(name)/\(configFileName)")
        let weights = try SafeTensorsFile(contentsOf: weightsURL)
        let paired = try pairModules(weights, config: config, location: "\(name)/\(weightsFileName)")
        return LoRAAdapter(
            directory: directory, config: config, configBytes: configBytes, weights: weights, modules: paired.modules,
            savedModuleTensors: paired.saved, baseModelTensors: paired.base)
    }

    private enum Role { case a, b, embeddingA, embeddingB, magnitude, bias }

    private static let prefix = "base_model.model."

    /// Suffixes PEFT gives each tensor role (adapter name already removed, as `save_pretrained` does).
    private static let suffixes: [(String, Role)] = [
        (".lora_A.weight", .a), (".lora_B.weight", .b),
        (".lora_embedding_A", .embeddingA), (".lora_embedding_B", .embeddingB),
        (".lora_magnitude_vector.weight", .magnitude), (".lora_magnitude_vector", .magnitude),
        (".lora_B.bias", .bias),
    ]

    static func pairModules(
        _ weights: SafeTensorsFile, config: AdapterConfig, location: String
    ) throws -> (modules: [LoRAModuleInfo], saved: [String], base: [String]) {
        var roles: [String: [Role: TensorInfo]] = [:]
        var saved: [String] = []
        // (tensor name, module path it must belong to when it is a `base_layer` tensor)
        var base: [(name: String, owner: String?)] = []
        for tensor in weights.tensors {
            guard tensor.name.hasPrefix(prefix) else {
                throw LoRAError(.unexpectedTensor, at: "\(location), tensor '\(tensor.name)'", "PEFT LoRA keys start with '\(prefix)'")
            }
            let rest = String(tensor.name.dropFirst(prefix.count))
            if let (suffix, role) = suffixes.first(where: { rest.hasSuffix($0.0) }), rest.count > suffix.count {
                let path = String(rest.dropLast(suffix.count))
                if roles[path, default: [:]][role] != nil {
                    throw LoRAError(.unexpectedTensor, at: "\(location), tensor '\(tensor.name)'", "a second tensor for the same role of module '\(path)'")
                }
                roles[path, default: [:]][role] = tensor
            } else if config.isModulesToSaveTensor(rest) {
                saved.append(tensor.name)
            } else if let owner = baseLayerOwner(rest) {
                // PEFT saves the wrapped layer's own weight (`save_embedding_layers`, e.g. a resized embed_tokens) and,
                // with bias "lora_only"/"all", its bias: base-model parameters, not LoRA factors.
                base.append((tensor.name, owner))
            } else if config.bias != "none", rest.hasSuffix(".bias") {
                // bias "all" also saves the biases of layers without LoRA.
                base.append((tensor.name, nil))
            } else {
                throw LoRAError(
                    .unexpectedTensor, at: "\(location), tensor '\(tensor.name)'",
                    "neither a LoRA factor (lora_A/lora_B/lora_embedding_A/B), a DoRA magnitude, nor a modules_to_save copy")
            }
        }
        var modules: [LoRAModuleInfo] = []
        for (path, parts) in roles {
            modules.append(try module(path: path, parts, config: config, location: location))
        }
        modules.sort { $0.path.unicodeScalars.lexicographicallyPrecedes($1.path.unicodeScalars) }
        for tensor in base {
            if let owner = tensor.owner, roles[owner] == nil {
                throw LoRAError(
                    .unexpectedTensor, at: "\(location), tensor '\(tensor.name)'",
                    "a base_layer tensor of '\(owner)', which has no LoRA factors")
            }
            if tensor.owner != nil, tensor.name.hasSuffix(".bias"), config.bias == "none" {
                throw LoRAError(.unexpectedTensor, at: "\(location), tensor '\(tensor.name)'", "a base-layer bias but the config's bias is \"none\"")
            }
        }
        return (modules, saved, base.map(\.name))
    }

    /// The module path of a `<path>.base_layer.weight` / `<path>.base_layer.bias` key (prefix removed), else nil.
    private static func baseLayerOwner(_ rest: String) -> String? {
        for suffix in [".base_layer.weight", ".base_layer.bias"] where rest.hasSuffix(suffix) && rest.count > suffix.count {
            return String(rest.dropLast(suffix.count))
        }
        return nil
    }

    private static func module(path: String, _ parts: [Role: TensorInfo], config: AdapterConfig, location: String) throws -> LoRAModuleInfo {
        let here = "\(location), module '\(path)'"
        let linear = parts[.a] != nil || parts[.b] != nil
        let embedding = parts[.embeddingA] != nil || parts[.embeddingB] != nil
        if linear && embedding {
            throw LoRAError(.unexpectedTensor, at: here, "has both lora_A/lora_B and lora_embedding_A/B tensors")
        }
        let (a, b): (TensorInfo?, TensorInfo?) = embedding ? (parts[.embeddingA], parts[.embeddingB]) : (parts[.a], parts[.b])
        guard let a, let b else {
            let present = (a ?? b).map(\.name) ?? parts.values.map(\.name).sorted().joined(separator: ", ")
            throw LoRAError(.unpairedFactor, at: here, "\(present) has no matching \(a == nil ? "A" : "B") factor")
        }
        for factor in [a, b] {
            guard factor.dtype.isConvertibleToFloat else {
                throw LoRAError(.nonFloatTensor, at: "\(location), tensor '\(factor.name)'", "dtype \(factor.dtype) is not a float type")
            }
            guard factor.shape.count == 2 else {
                throw LoRAError(
                    .unsupportedLayer, at: "\(location), tensor '\(factor.name)'",
                    "shape \(factor.shape) has \(factor.shape.count) dimensions; LoRA factors of Linear/Embedding layers have 2 (Conv layers are not supported)")
            }
        }
        guard a.dtype == b.dtype else {
            throw LoRAError(.shapeMismatch, at: here, "A is \(a.dtype) but B is \(b.dtype)")
        }
        let rank = config.rank(for: path)
        guard a.shape[0] == rank, b.shape[1] == rank else {
            throw LoRAError(
                .rankMismatch, at: here,
                "the config gives rank \(rank) (r=\(config.r)\(rank == config.r ? "" : " overridden by rank_pattern")) but A is \(a.shape) and B is \(b.shape)")
        }
        let inFeatures = a.shape[1]
        let outFeatures = b.shape[0]
        guard config.targets(path) else {
            throw LoRAError(.untargetedModule, at: here, "the module has LoRA weights but target_modules/exclude_modules/layers_to_transform do not select it")
        }
        let magnitude = parts[.magnitude]
        if let magnitude {
            guard config.useDora else {
                throw LoRAError(.magnitudeMismatch, at: here, "has a DoRA magnitude vector but use_dora is false")
            }
            guard magnitude.shape == [outFeatures] || magnitude.shape == [1, outFeatures] || magnitude.shape == [outFeatures, 1] else {
                throw LoRAError(.magnitudeMismatch, at: here, "magnitude vector has shape \(magnitude.shape), expected [\(outFeatures)]")
            }
            guard magnitude.dtype.isConvertibleToFloat else {
                throw LoRAError(.nonFloatTensor, at: "\(location), tensor '\(magnitude.name)'", "dtype \(magnitude.dtype) is not a float type")
            }
        } else if config.useDora {
            throw LoRAError(.magnitudeMismatch, at: here, "use_dora is true but the module has no lora_magnitude_vector")
        }
        let bias = parts[.bias]
        if let bias, bias.shape != [outFeatures] {
            throw LoRAError(.shapeMismatch, at: "\(location), tensor '\(bias.name)'", "lora_B bias has shape \(bias.shape), expected [\(outFeatures)]")
        }
        return LoRAModuleInfo(
            path: path, kind: embedding ? .embedding : .linear, rank: rank, alpha: config.alpha(for: path), scaling: config.scaling(for: path),
            inFeatures: inFeatures, outFeatures: outFeatures, keyA: a.name, keyB: b.name, magnitudeKey: magnitude?.name, dtype: a.dtype,
            biasKey: bias?.name, baseWeightTransposed: embedding || config.fanInFanOut)
    }
}

extension LoRAAdapter {
    /// Refuses `file` when it is a symbolic link that resolves outside `directory` (or nowhere): an adapter directory
    /// is read as what it holds, never as a way to reach `/etc/…`, a device or another user's files.
    static func requireInside(_ file: URL, directory: URL, name: String) throws {
        var status = stat()
        guard lstat(file.path, &status) == 0, (status.st_mode & S_IFMT) == S_IFLNK else { return }
        let location = "\(name)/\(file.lastPathComponent)"
        guard let rootPointer = realpath(directory.path, nil) else {
            throw LoRAError(.linkOutside, at: location, "the adapter directory cannot be resolved")
        }
        let root = String(cString: rootPointer)
        free(rootPointer)
        guard let targetPointer = realpath(file.path, nil) else {
            throw LoRAError(.linkOutside, at: location, "is a symbolic link that leads nowhere")
        }
        let target = String(cString: targetPointer)
        free(targetPointer)
        guard target.hasPrefix(root == "/" ? "/" : root + "/") else {
            throw LoRAError(.linkOutside, at: location,
                            "is a symbolic link to \(TerminalText.escape(String(target.prefix(200)))), outside the adapter directory")
        }
    }
}
