import Foundation
import SafeTensors

extension AdapterConfig {
    /// Reads and validates `adapter_config.json` bytes.
    /// - Parameter file: the file's path, for error messages.
    /// - Throws: ``LoRAError`` (malformed JSON, duplicated keys, wrong field types, non-LoRA `peft_type`).
    public static func parse(_ data: Data, file: String) throws -> AdapterConfig {
        let root: JSONValue
        do {
            root = try StrictJSONParser.parse(data)
        } catch {
            switch error {
            case let .syntax(offset, message):
                throw LoRAError(.malformedConfig, at: file, "not valid JSON at byte \(offset): \(message)")
            case let .duplicateKey(offset, key):
                throw LoRAError(.malformedConfig, at: file, "key '\(key)' appears more than once (byte \(offset))")
            }
        }
        guard case let .object(members) = root else {
            throw LoRAError(.malformedConfig, at: file, "the top level must be a JSON object, found \(root.typeName)")
        }
        guard case let .string(peftType)? = root["peft_type"] else {
            throw LoRAError(.invalidConfigField, at: file, "'peft_type' is missing or not a string")
        }
        guard peftType == "LORA" else {
            throw LoRAError(.unsupportedPeftType, at: file, "peft_type is \"\(peftType)\", not \"LORA\"")
        }
        var config = AdapterConfig(baseModelNameOrPath: nil, r: 8, loraAlpha: 8, targetModules: .list([]))
        for (key, value) in members {
            if let codec = fieldCodecs[key] {
                try codec.decode(&config, value, file)
                config.sourceValues[key] = value
            } else {
                config.otherFields[key] = value
            }
        }
        guard config.r > 0 else { throw LoRAError(.invalidConfigField, at: file, "'r' must be positive, found \(config.r)") }
        for (key, rank) in config.rankPattern where rank <= 0 {
            throw LoRAError(.invalidConfigField, at: file, "rank_pattern['\(key)'] must be positive, found \(rank)")
        }
        for key in Array(config.rankPattern.keys) + Array(config.alphaPattern.keys) where !PythonRegex.isValid(key) {
            throw LoRAError(.invalidConfigField, at: file, "pattern key '\(key)' is not a valid regular expression")
        }
        if case let .regex(pattern) = config.targetModules, !PythonRegex.isValid(pattern) {
            throw LoRAError(.invalidConfigField, at: file, "target_modules '\(pattern)' is not a valid regular expression")
        }
        return config
    }

    /// The config as PEFT writes it (`json.dumps(indent=2, sort_keys=True)`, ASCII only, no final newline).
    public func jsonData() throws -> Data {
        Data(PythonJSON.dumps(jsonValue()).utf8)
    }

    /// The config as a JSON object: typed fields (their original text when unchanged) plus ``otherFields``.
    public func jsonValue() -> JSONValue {
        var members = otherFields
        for (key, codec) in Self.fieldCodecs {
            let current = codec.encode(self)
            if let source = sourceValues[key] {
                var probe = self
                if (try? codec.decode(&probe, source, "")) != nil, codec.encode(probe) == current {
                    members[key] = source
                    continue
                }
            } else if !sourceValues.isEmpty, current == codec.encode(AdapterConfig.defaults) {
                // Parsed from a file that lacked this key and the value is still the default: keep it absent.
                continue
            }
            members[key] = current
        }
        return .object(members.map { (key: $0.key, value: $0.value) })
    }

    static let defaults = AdapterConfig(baseModelNameOrPath: nil, r: 8, loraAlpha: 8, targetModules: .list([]))

    struct FieldCodec: Sendable {
        let decode: @Sendable (inout AdapterConfig, JSONValue, String) throws -> Void
        let encode: @Sendable (AdapterConfig) -> JSONValue
    }

    static let fieldCodecs: [String: FieldCodec] = [
        "peft_type": FieldCodec(decode: { c, v, f in c.peftType = try string(v, "peft_type", f) }, encode: { .string($0.peftType) }),
        "base_model_name_or_path": FieldCodec(
            decode: { c, v, f in c.baseModelNameOrPath = try optionalString(v, "base_model_name_or_path", f) },
            encode: { $0.baseModelNameOrPath.map(JSONValue.string) ?? .null }),
        "revision": FieldCodec(
            decode: { c, v, f in c.revision = try optionalString(v, "revision", f) },
            encode: { $0.revision.map(JSONValue.string) ?? .null }),
        "task_type": FieldCodec(
            decode: { c, v, f in c.taskType = try optionalString(v, "task_type", f) },
            encode: { $0.taskType.map(JSONValue.string) ?? .null }),
        "r": FieldCodec(decode: { c, v, f in c.r = try integer(v, "r", f) }, encode: { .number(String($0.r)) }),
        "lora_alpha": FieldCodec(decode: { c, v, f in c.loraAlpha = try number(v, "lora_alpha", f) }, encode: { .number(PythonJSON.format($0.loraAlpha)) }),
        "lora_dropout": FieldCodec(decode: { c, v, f in c.loraDropout = try number(v, "lora_dropout", f) }, encode: { .number(PythonJSON.format($0.loraDropout)) }),
        "use_rslora": FieldCodec(decode: { c, v, f in c.useRslora = try bool(v, "use_rslora", f) }, encode: { .bool($0.useRslora) }),
        "use_dora": FieldCodec(decode: { c, v, f in c.useDora = try bool(v, "use_dora", f) }, encode: { .bool($0.useDora) }),
        "fan_in_fan_out": FieldCodec(decode: { c, v, f in c.fanInFanOut = try bool(v, "fan_in_fan_out", f) }, encode: { .bool($0.fanInFanOut) }),
        "lora_bias": FieldCodec(decode: { c, v, f in c.loraBias = try bool(v, "lora_bias", f) }, encode: { .bool($0.loraBias) }),
        "inference_mode": FieldCodec(decode: { c, v, f in c.inferenceMode = try bool(v, "inference_mode", f) }, encode: { .bool($0.inferenceMode) }),
        "bias": FieldCodec(decode: { c, v, f in c.bias = try string(v, "bias", f) }, encode: { .string($0.bias) }),
        "peft_version": FieldCodec(
            decode: { c, v, f in c.peftVersion = try optionalString(v, "peft_version", f) },
            encode: { $0.peftVersion.map(JSONValue.string) ?? .null }),
        "target_modules": FieldCodec(
            decode: { c, v, f in c.targetModules = try targetModules(v, "target_modules", f) ?? .list([]) },
            encode: { encodeTargets($0.targetModules) }),
        "exclude_modules": FieldCodec(
            decode: { c, v, f in c.excludeModules = try targetModules(v, "exclude_modules", f) },
            encode: { $0.excludeModules.map(encodeTargets) ?? .null }),
        "rank_pattern": FieldCodec(
            decode: { c, v, f in
                let pairs = try patternMap(v, "rank_pattern", f) { try integer($0, "rank_pattern", f) }
                c.rankPattern = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
                c.rankPatternOrder = pairs.map(\.0)
            },
            encode: { .object($0.rankPattern.map { (key: $0.key, value: .number(String($0.value))) }) }),
        "alpha_pattern": FieldCodec(
            decode: { c, v, f in
                let pairs = try patternMap(v, "alpha_pattern", f) { try number($0, "alpha_pattern", f) }
                c.alphaPattern = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
                c.alphaPatternOrder = pairs.map(\.0)
            },
            encode: { .object($0.alphaPattern.map { (key: $0.key, value: .number(PythonJSON.format($0.value))) }) }),
        "modules_to_save": FieldCodec(
            decode: { c, v, f in c.modulesToSave = try optionalStringList(v, "modules_to_save", f) },
            encode: { $0.modulesToSave.map { .array($0.map(JSONValue.string)) } ?? .null }),
        "layers_pattern": FieldCodec(
            decode: { c, v, f in
                if case let .string(single) = v { c.layersPattern = [single] } else { c.layersPattern = try optionalStringList(v, "layers_pattern", f) }
            },
            encode: { $0.layersPattern.map { .array($0.map(JSONValue.string)) } ?? .null }),
        "layers_to_transform": FieldCodec(
            decode: { c, v, f in
                switch v {
                case .null: c.layersToTransform = nil
                case .number: c.layersToTransform = [try integer(v, "layers_to_transform", f)]
                case let .array(items): c.layersToTransform = try items.map { try integer($0, "layers_to_transform", f) }
                default: throw LoRAError(.invalidConfigField, at: f, "'layers_to_transform' must be an integer, a list of integers or null, found \(v.typeName)")
                }
            },
            encode: { $0.layersToTransform.map { .array($0.map { .number(String($0)) }) } ?? .null }),
    ]

    private static func encodeTargets(_ targets: TargetModules) -> JSONValue {
        switch targets {
        case let .list(names): .array(names.map(JSONValue.string))
        case let .regex(pattern): .string(pattern)
        }
    }

    private static func string(_ value: JSONValue, _ key: String, _ file: String) throws -> String {
        guard case let .string(text) = value else {
            throw LoRAError(.invalidConfigField, at: file, "'\(key)' must be a string, found \(value.typeName)")
        }
        return text
    }

    private static func optionalString(_ value: JSONValue, _ key: String, _ file: String) throws -> String? {
        if case .null = value { return nil }
        return try string(value, key, file)
    }

    private static func bool(_ value: JSONValue, _ key: String, _ file: String) throws -> Bool {
        guard case let .bool(flag) = value else {
            throw LoRAError(.invalidConfigField, at: file, "'\(key)' must be true or false, found \(value.typeName)")
        }
        return flag
    }

    private static func integer(_ value: JSONValue, _ key: String, _ file: String) throws -> Int {
        guard let number = value.integer else {
            throw LoRAError(.invalidConfigField, at: file, "'\(key)' must be an integer, found \(describe(value))")
        }
        return number
    }

    private static func number(_ value: JSONValue, _ key: String, _ file: String) throws -> Double {
        guard let number = value.double, number.isFinite else {
            throw LoRAError(.invalidConfigField, at: file, "'\(key)' must be a finite number, found \(describe(value))")
        }
        return number
    }

    private static func describe(_ value: JSONValue) -> String {
        if case let .number(text) = value { return text }
        return value.typeName
    }

    private static func optionalStringList(_ value: JSONValue, _ key: String, _ file: String) throws -> [String]? {
        switch value {
        case .null: return nil
        case let .array(items): return try items.map { try string($0, key, file) }
        default: throw LoRAError(.invalidConfigField, at: file, "'\(key)' must be a list of strings or null, found \(value.typeName)")
        }
    }

    private static func targetModules(_ value: JSONValue, _ key: String, _ file: String) throws -> TargetModules? {
        switch value {
        case .null: return nil
        case let .string(pattern): return .regex(pattern)
        case let .array(items): return .list(try items.map { try string($0, key, file) })
        default: throw LoRAError(.invalidConfigField, at: file, "'\(key)' must be a list of names, a regex string or null, found \(value.typeName)")
        }
    }

    private static func patternMap<T>(_ value: JSONValue, _ key: String, _ file: String, _ element: (JSONValue) throws -> T) throws -> [(String, T)] {
        switch value {
        case .null: return []
        case let .object(members): return try members.map { ($0.key, try element($0.value)) }
        default: throw LoRAError(.invalidConfigField, at: file, "'\(key)' must be an object, found \(value.typeName)")
        }
    }
}
