import QuiverCore
import SafeTensors

extension LoRAAdapter {
    /// How ``canonicalDigest`` is defined (version 1). Two adapters have the same canonical digest exactly when
    /// they have the same semantically relevant config and the same tensors, however the files are formatted.
    ///
    /// sha256 over the concatenation of:
    /// 1. the ASCII line `quiver-lora-canonical-v1\n`;
    /// 2. a compact JSON object (keys sorted by code point, no whitespace, strings escaped as in safetensors
    ///    headers, numbers as integers when integral else Swift's shortest round-trip form) holding only
    ///    `base_model_name_or_path`, `revision`, `peft_type`, `r`, `lora_alpha`, `use_rslora`, `use_dora`,
    ///    `target_modules` (a list sorted and de-duplicated, or `{"regex": pattern}`), `exclude_modules` (same),
    ///    `rank_pattern`, `alpha_pattern`, `fan_in_fan_out`, `bias`, `lora_bias`, `modules_to_save` (sorted),
    ///    `layers_to_transform` (sorted), `layers_pattern`; absent optionals are `null`. Training-only and
    ///    bookkeeping fields (`lora_dropout`, `inference_mode`, `peft_version`, `task_type`, `init_lora_weights`, …)
    ///    are left out, and so is the safetensors `__metadata__`;
    /// 3. `\n`, then for each tensor in code-point order of its name: the name, `\n`, the dtype, `\n`, the shape as
    ///    comma-separated decimals, `\n`, the byte count in decimal, `\n`, then the raw little-endian bytes.
    public static let canonicalDigestDefinition = "quiver-lora-canonical-v1"

    /// sha256 of the weights file as stored, one streaming pass; records the file's chain on the way
    /// (``weightsChain``).
    func computeWeightsDigest() -> SHA256Digest {
        let (digest, chain) = SHA256Chain.digest(size: Int64(weights.fileSize)) { feed in
            weights.streamBytes(0..<weights.fileSize) { feed($0) }
        }
        chainCache.withLock { $0 = chain }
        return digest
    }

    func computeCanonicalDigest() -> SHA256Digest {
        computeCanonicalDigest(checkingFinite: false).digest
    }

    /// The canonical digest; with `checkingFinite`, also whether a float tensor holds a NaN or an infinity, each
    /// piece tested right after it is hashed, while it is still in the cache.
    func computeCanonicalDigest(checkingFinite: Bool) -> (digest: SHA256Digest, nonFinite: Bool) {
        var hasher = SHA256Hasher()
        var nonFinite = false
        hasher.update(Array("\(Self.canonicalDigestDefinition)\n".utf8))
        hasher.update(config.canonicalJSON())
        hasher.update(Array("\n".utf8))
        let sorted = weights.tensors.sorted { $0.name.unicodeScalars.lexicographicallyPrecedes($1.name.unicodeScalars) }
        for tensor in sorted {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            hasher.update(Array("\(tensor.name)\n\(tensor.dtype.rawValue)\n\(shape)\n\(tensor.byteCount)\n".utf8))
            // Windows and pieces start at multiples of 256 KiB from the tensor's start: whole elements.
            weights.streamBytes(weights.fileRange(of: tensor)) { window in
                if !checkingFinite {
                    hasher.update(window)
                    return
                }
                var start = 0
                while start < window.count {
                    let piece = UnsafeRawBufferPointer(rebasing: window[start..<min(start + Self.digestChunk, window.count)])
                    hasher.update(piece)
                    if !nonFinite { nonFinite = SafeTensorsFile.containsNonFinite(piece, dtype: tensor.dtype) }
                    start += piece.count
                }
            }
        }
        return (hasher.finalize(), nonFinite)
    }

    /// What registering needs before any byte is stored: every float weight finite (else `lora.non_finite_weight`,
    /// as ``requireFiniteWeights()`` names it) and both digests, on two threads: the file digest on one, the
    /// canonical digest with the finite check on the other. About one file-hash of time instead of the three passes
    /// of the check and ``digests()`` one after the other. The digests are kept, as ``digests()`` keeps them.
    ///
    /// With `holdingWeights` (a file about to be uploaded), a read lease on the weights file is taken first, where the
    /// kernel grants one, and kept as ``weightsLease``: only a lease taken before the file is hashed vouches for the
    /// bytes hashed, so none is taken when a digest is already known.
    public func requireFiniteWeightsAndDigests(holdingWeights: Bool = false) throws {
        let known = digestCache.withLock { $0 }
        if known.canonical != nil || known.weights != nil {
            try requireFiniteWeights()
            digests()
            return
        }
        if holdingWeights, let lease = FileLease.take(path: weights.url.path, expecting: weights.fileIdentity) {
            leaseCache.withLock { $0 = lease }
        }
        let (file, canonical) = try ParallelMap.both(
            { self.computeWeightsDigest() }, { self.computeCanonicalDigest(checkingFinite: true) })
        // The fused check says whether; the full scan says where (and throws).
        if canonical.nonFinite { try requireFiniteWeights() }
        assumeDigests(canonical: canonical.digest, weights: file)
    }
}

extension LoRAAdapter {
    /// Bytes fed to both hashers at a time: small enough that the second hasher reads them from the L2 cache.
    static let digestChunk = 256 << 10

    /// The canonical digest and the file digest in ONE read of the weights file, when the file's tensors are
    /// stored in canonical (code-point) order, as PEFT's and Quiver's writers store single-dtype adapters: walking
    /// the file from start to end, every byte goes to the file hasher and every tensor's bytes (after its
    /// description line) to the canonical hasher as well, chunk by chunk while the chunk is in the cache.
    /// nil when the tensors are stored in another order (then each digest is its own pass).
    /// The file stream's chaining states are taken every ``SHA256Chain/defaultStride`` bytes on the way (the chain
    /// the catalog keeps for downloads), when the SHA extensions are there.
    func computeDigests() -> (canonical: SHA256Digest, weights: SHA256Digest, chain: SHA256Chain?)? {
        let stored = weights.tensors
        for (earlier, later) in zip(stored, stored.dropFirst())
        where !earlier.name.unicodeScalars.lexicographicallyPrecedes(later.name.unicodeScalars) {
            return nil
        }
        // First the canonical stream, second the file: tensor bytes go to both at once.
        var digests = SHA256Pair()
        digests.updateFirst(Array("\(Self.canonicalDigestDefinition)\n".utf8))
        digests.updateFirst(config.canonicalJSON())
        digests.updateFirst(Array("\n".utf8))
        // The tensor ranges in file order, each with its description line; bytes outside them (the header, gaps)
        // go to the file hasher only.
        let segments = stored.map { tensor in
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            return (range: weights.fileRange(of: tensor),
                    line: Array("\(tensor.name)\n\(tensor.dtype.rawValue)\n\(shape)\n\(tensor.byteCount)\n".utf8))
        }
        for (earlier, later) in zip(segments, segments.dropFirst()) where earlier.range.upperBound > later.range.lowerBound {
            return nil
        }
        var next = 0  // the first segment not yet finished
        var windowStart = 0
        var boundaries = SHA256ChainBoundaries(stride: SHA256Chain.defaultStride, fileSize: Int64(weights.fileSize))
        var states: [UInt32]? = []  // the file stream's state at each boundary; nil without the SHA extensions
        // streamBytes releases each 32 MiB window's pages once it is hashed, so RSS stays flat for large files.
        weights.streamBytes(0..<weights.fileSize) { window in
            let windowEnd = windowStart + window.count
            var position = windowStart
            while position < windowEnd {
                var end = windowEnd
                var tensorBytes = false
                if next < segments.count {
                    let range = segments[next].range
                    if position < range.lowerBound {
                        end = min(end, range.lowerBound)
                    } else {
                        if position == range.lowerBound { digests.updateFirst(segments[next].line) }
                        end = min(end, range.upperBound)
                        tensorBytes = true
                    }
                }
                var piece = position
                while piece < end {
                    let pieceEnd = Int(boundaries.limit(Int64(min(end, piece + Self.digestChunk))))
                    let bytes = UnsafeRawBufferPointer(rebasing: window[(piece - windowStart)..<(pieceEnd - windowStart)])
                    if tensorBytes { digests.updateBoth(bytes) } else { digests.updateSecond(bytes) }
                    piece = pieceEnd
                    if boundaries.reached(Int64(piece)) {
                        if let state = digests.secondChainingState { states? += state } else { states = nil }
                    }
                }
                position = end
                if tensorBytes && next < segments.count && position == segments[next].range.upperBound { next += 1 }
                // An empty tensor (0 bytes) still has its description line in the canonical stream.
                while next < segments.count && segments[next].range.isEmpty && segments[next].range.lowerBound <= position {
                    digests.updateFirst(segments[next].line)
                    next += 1
                }
            }
            windowStart = windowEnd
        }
        guard next == segments.count else { return nil }
        let (canonical, file) = digests.finalize()
        let chain = states.flatMap { SHA256Chain(stride: boundaries.stride, states: $0) }
        return (canonical, file, chain.flatMap { $0.fits(fileSize: boundaries.fileSize) ? $0 : nil })
    }
}

extension AdapterConfig {
    /// The semantically relevant fields as compact canonical JSON (see ``LoRAAdapter/canonicalDigestDefinition``).
    public func canonicalJSON() -> [UInt8] {
        func targets(_ value: TargetModules?) -> JSONValue {
            switch value {
            case nil: .null
            case let .list(names)?: .array(Array(Set(names)).sorted(by: codePointOrder).map(JSONValue.string))
            case let .regex(pattern)?: .object([(key: "regex", value: .string(pattern))])
            }
        }
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        let members: [(key: String, value: JSONValue)] = [
            ("alpha_pattern", .object(alphaPattern.map { (key: $0.key, value: .number(PythonJSON.format($0.value))) })),
            ("base_model_name_or_path", optional(baseModelNameOrPath)),
            ("bias", .string(bias)),
            ("exclude_modules", targets(excludeModules)),
            ("fan_in_fan_out", .bool(fanInFanOut)),
            ("layers_pattern", layersPattern.map { .array($0.map(JSONValue.string)) } ?? .null),
            ("layers_to_transform", layersToTransform.map { .array($0.sorted().map { .number(String($0)) }) } ?? .null),
            ("lora_alpha", .number(PythonJSON.format(loraAlpha))),
            ("lora_bias", .bool(loraBias)),
            ("modules_to_save", modulesToSave.map { .array($0.sorted(by: codePointOrder).map(JSONValue.string)) } ?? .null),
            ("peft_type", .string(peftType)),
            ("r", .number(String(r))),
            ("rank_pattern", .object(rankPattern.map { (key: $0.key, value: .number(String($0.value))) })),
            ("revision", optional(revision)),
            ("target_modules", targets(targetModules)),
            ("use_dora", .bool(useDora)),
            ("use_rslora", .bool(useRslora)),
        ]
        var output: [UInt8] = []
        CompactJSON.write(.object(members), to: &output)
        return output
    }
}

func codePointOrder(_ a: String, _ b: String) -> Bool { a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) }

/// Compact JSON with object keys sorted by code point, for digests.
enum CompactJSON {
    static func write(_ value: JSONValue, to output: inout [UInt8]) {
        switch value {
        case .null: output += Array("null".utf8)
        case let .bool(flag): output += Array((flag ? "true" : "false").utf8)
        case let .number(text): output += Array(text.utf8)
        case let .string(text): SafeTensorsWriter.appendJSONString(text, to: &output)
        case let .array(items):
            output.append(UInt8(ascii: "["))
            for (position, item) in items.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                write(item, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case let .object(members):
            output.append(UInt8(ascii: "{"))
            for (position, member) in members.sorted(by: { codePointOrder($0.key, $1.key) }).enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                SafeTensorsWriter.appendJSONString(member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                write(member.value, to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }
}
