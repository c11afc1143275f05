import Foundation
import QuiverCore
import SafeTensors
import Synchronization

/// A validated PEFT adapter directory. Factors are read from the memory-mapped file on demand, so a 7B-scale
/// adapter never sits in memory all at once.
public final class LoRAAdapter: Sendable {
    /// The directory holding `adapter_config.json` and `adapter_model.safetensors`.
    public let directory: URL
    public let config: AdapterConfig
    /// Every adapted module, sorted by path.
    public let modules: [LoRAModuleInfo]
    /// Tensors kept whole rather than as factors (`modules_to_save` copies), by key.
    public let savedModuleTensors: [String]
    /// Base-model parameters PEFT saved next to the factors, by key: `<module>.base_layer.weight` of an adapted
    /// embedding (`save_embedding_layers`) and, with `bias` "lora_only"/"all", trained biases.
    public let baseModelTensors: [String]
    /// The weights file, memory-mapped.
    public let weights: SafeTensorsFile
    /// The exact bytes of `adapter_config.json`.
    public let configBytes: Data
    /// sha256 of `adapter_config.json` as stored.
    public let configDigest: SHA256Digest
    private let moduleIndex: [String: Int]
    let digestCache = Mutex<(weights: SHA256Digest?, canonical: SHA256Digest?)>((nil, nil))
    /// The weights file's SHA-256 chain, when its digest was computed here (see ``weightsChain``).
    let chainCache = Mutex<SHA256Chain?>(nil)
    /// A lease on the weights file taken before it was hashed, when asked for (see ``weightsLease``).
    let leaseCache = Mutex<FileLease?>(nil)

    init(
        directory: URL, config: AdapterConfig, configBytes: Data, weights: SafeTensorsFile, modules: [LoRAModuleInfo], savedModuleTensors: [String],
        baseModelTensors: [String] = []
    ) {
        self.directory = directory
        self.config = config
        self.configBytes = configBytes
        self.configDigest = SHA256Digest.of(configBytes)
        self.weights = weights
        self.modules = modules
        self.savedModuleTensors = savedModuleTensors
        self.baseModelTensors = baseModelTensors
        self.moduleIndex = Dictionary(modules.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The module at `path` (e.g. `model.layers.0.self_attn.q_proj`), if adapted.
    public func module(_ path: String) -> LoRAModuleInfo? {
        moduleIndex[path].map { modules[$0] }
    }

    /// A as `rank × inFeatures` row-major and B as `outFeatures × rank` row-major, Float32, so that
    /// `scaling · B·A` is always the `out × in` delta (for embeddings and `fan_in_fan_out` layers the base weight
    /// is stored transposed; see ``LoRAModuleInfo/baseWeightTransposed``).
    public func factors(_ path: String) throws -> (a: [Float], b: [Float]) {
        guard let module = module(path) else {
            throw LoRAError(.moduleNotFound, at: directory.lastPathComponent, "no LoRA module '\(path)' in this adapter")
        }
        let a = try weights.floats(module.keyA), b = try weights.floats(module.keyB)
        // The values are copies: dropping the mapped pages keeps a merge that reads every module once from
        // holding the whole input file resident on top of its own buffers.
        weights.releasePages(of: module.keyA)
        weights.releasePages(of: module.keyB)
        return (a, b)
    }

    /// DoRA's magnitude vector for the module (length `outFeatures`), or nil without DoRA.
    public func magnitude(_ path: String) throws -> [Float]? {
        guard let module = module(path) else {
            throw LoRAError(.moduleNotFound, at: directory.lastPathComponent, "no LoRA module '\(path)' in this adapter")
        }
        return try module.magnitudeKey.map { try weights.floats($0) }
    }

    /// sha256 of `adapter_model.safetensors` as stored. Computed on first use (hashing reads the whole file).
    public var weightsDigest: SHA256Digest {
        digestCache.withLock { cache in
            if let digest = cache.weights { return digest }
            let digest = computeWeightsDigest()
            cache.weights = digest
            return digest
        }
    }

    /// The weights file's chaining states every ``SHA256Chain/defaultStride`` bytes, recorded when the file's
    /// digest was computed here (alone, as registration computes it, or together with the canonical digest, as for a
    /// merge's output); nil otherwise, for files of one stride or less, and without the SHA extensions. A multipart
    /// upload checks each part again with them once it went out (unless ``weightsLease`` vouches for the file), and
    /// the catalog keeps them so a download can verify its ranges in parallel.
    public var weightsChain: SHA256Chain? { chainCache.withLock { $0 } }

    /// A read lease on the weights file taken just before its digests were computed
    /// (``requireFiniteWeightsAndDigests(holdingWeights:)``), where the kernel grants one (``FileLease``). While it is
    /// intact nobody has opened the file for writing since it was hashed, so an upload sends the bytes hashed
    /// without reading them again to check. Released with ``releaseWeightsLease()`` or with the adapter.
    public var weightsLease: FileLease? { leaseCache.withLock { $0 } }

    /// Gives up ``weightsLease``, if any (writers of the file no longer wait on it even for a poll).
    public func releaseWeightsLease() {
        leaseCache.withLock { lease in
            lease?.release()
            lease = nil
        }
    }

    /// The adapter's identity independent of file formatting; see ``canonicalDigestDefinition``. Computed on first
    /// use (it hashes every tensor's bytes).
    public var canonicalDigest: SHA256Digest {
        digestCache.withLock { cache in
            if let digest = cache.canonical { return digest }
            let digest = computeCanonicalDigest()
            cache.canonical = digest
            return digest
        }
    }

    /// Both digests (``canonicalDigest``, ``weightsDigest``), computed together when neither is known yet: one read
    /// of the weights file feeds both hashers chunk by chunk (see ``computeDigests()``). Either digest already known
    /// is not computed again.
    @discardableResult
    public func digests() -> (canonical: SHA256Digest, weights: SHA256Digest) {
        let known = digestCache.withLock { $0 }
        if let canonical = known.canonical, let weights = known.weights { return (canonical, weights) }
        if known.canonical != nil || known.weights != nil { return (canonicalDigest, weightsDigest) }
        guard let both = computeDigests() else { return (canonicalDigest, weightsDigest) }
        if let chain = both.chain { chainCache.withLock { if $0 == nil { $0 = chain } } }
        return digestCache.withLock { cache in
            cache.canonical = cache.canonical ?? both.canonical
            cache.weights = cache.weights ?? both.weights
            return (cache.canonical ?? both.canonical, cache.weights ?? both.weights)
        }
    }

    /// Records digests established elsewhere for exactly these bytes (a download verified against the weights
    /// digest, whose canonical digest the catalog recorded when the same bytes were registered), so they are not
    /// computed again. A digest already known is kept.
    public func assumeDigests(canonical: SHA256Digest?, weights: SHA256Digest?) {
        digestCache.withLock { cache in
            cache.canonical = cache.canonical ?? canonical
            cache.weights = cache.weights ?? weights
        }
    }

    /// Total trainable parameters stored in the weights file.
    public var parameterCount: Int { weights.tensors.reduce(0) { $0 + $1.elementCount } }
}
