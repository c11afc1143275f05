import Foundation

extension AdapterConfig {
    /// The `rank_pattern` / `alpha_pattern` key PEFT 0.21 applies to `modulePath`, by its `get_pattern_key` rule:
    /// keys are tried in file order and the first for which `re.match(rf"(.*\.)?({key})$", modulePath)` succeeds
    /// wins, i.e. the key (a regex) must match a dot-separated tail of the path.
    static func patternKey(_ keys: [String], for modulePath: String) -> String? {
        keys.first { PythonRegex.patternKeyMatches($0, modulePath) }
    }

    private static func ordered(_ order: [String], _ keys: Dictionary<String, some Any>.Keys) -> [String] {
        let known = order.filter { keys.contains($0) }
        let rest = keys.filter { !known.contains($0) }.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        return known + rest
    }

    /// The rank PEFT gives the module at `modulePath` (e.g. `model.layers.0.self_attn.q_proj`).
    public func rank(for modulePath: String) -> Int {
        guard !rankPattern.isEmpty, let key = Self.patternKey(Self.ordered(rankPatternOrder, rankPattern.keys), for: modulePath) else { return r }
        return rankPattern[key] ?? r
    }

    /// The alpha PEFT gives the module at `modulePath`.
    public func alpha(for modulePath: String) -> Double {
        guard !alphaPattern.isEmpty, let key = Self.patternKey(Self.ordered(alphaPatternOrder, alphaPattern.keys), for: modulePath) else {
            return loraAlpha
        }
        return alphaPattern[key] ?? loraAlpha
    }

    /// PEFT's `scaling`: `alpha / r`, or `alpha / sqrt(r)` with `use_rslora`, using the module's effective values.
    public func scaling(for modulePath: String) -> Double {
        let rank = Double(rank(for: modulePath))
        let alpha = alpha(for: modulePath)
        return useRslora ? alpha / rank.squareRoot() : alpha / rank
    }

    /// Whether PEFT would put a LoRA layer on `modulePath`: `target_modules` matches, `exclude_modules` does not,
    /// and, with `layers_to_transform`, the module's layer index is listed.
    public func targets(_ modulePath: String) -> Bool {
        guard targetModules.matches(modulePath) else { return false }
        if let excludeModules, excludeModules.matches(modulePath) { return false }
        if let layersToTransform, case .list = targetModules {
            guard let index = PythonRegex.layerIndex(modulePath, layersPattern: layersPattern) else { return false }
            return layersToTransform.contains(index)
        }
        return true
    }

    /// Whether the tensor path (module path plus parameter name) belongs to a `modules_to_save` copy.
    public func isModulesToSaveTensor(_ tensorPath: String) -> Bool {
        guard let modulesToSave, !modulesToSave.isEmpty else { return false }
        let parts = tensorPath.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return false }
        for end in 1..<parts.count {
            let prefix = parts[0..<end].joined(separator: ".")
            if modulesToSave.contains(where: { prefix == $0 || prefix.hasSuffix("." + $0) }) { return true }
        }
        return false
    }
}
