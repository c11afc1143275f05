import Foundation
import SafeTensors

/// Writes PEFT adapter directories that PEFT's `PeftModel.from_pretrained` loads.
public enum LoRAWriter {
    /// Writes `adapter_model.safetensors` then `adapter_config.json` into `directory` (created if needed), each
    /// atomically (temporary file + rename).
    ///
    /// Tensors are laid out in the reference safetensors order (dtype, then name), as PEFT's `save_pretrained`
    /// does, so a directory with the same tensors is byte-identical to PEFT's. `"format": "pt"` is added to the
    /// metadata when absent, because transformers refuses safetensors files without a known format. With
    /// `synchronize` both files and the directory's entries are flushed to the disk before this returns.
    public static func write(config: AdapterConfig, tensors: [TensorToWrite], metadata: [String: String], to directory: URL,
                             synchronize: Bool = false) throws {
        try createDirectory(directory)
        var metadata = metadata
        if metadata["format"] == nil { metadata["format"] = "pt" }
        try SafeTensorsWriter.write(
            SafeTensorsWriter.referenceOrder(tensors), metadata: metadata,
            to: directory.appendingPathComponent(LoRAAdapter.weightsFileName), synchronize: synchronize)
        try writeConfig(config, to: directory, synchronize: synchronize)
    }

    /// Creates `directory` (and its parents) when missing.
    public static func createDirectory(_ directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw LoRAError(.writeFailed, at: directory.path, "cannot create the directory: \(error)")
        }
    }

    /// Writes `adapter_config.json` into `directory` atomically; with `synchronize`, flushes it and the directory.
    public static func writeConfig(_ config: AdapterConfig, to directory: URL, synchronize: Bool = false) throws {
        let target = directory.appendingPathComponent(LoRAAdapter.configFileName)
        let temporary = directory.appendingPathComponent(".\(LoRAAdapter.configFileName).tmp-\(UUID().uuidString)")
        do {
            try config.jsonData().write(to: temporary)
            if synchronize { try AtomicFile.synchronize(temporary) }
            try AtomicFile.rename(temporary, over: target)
            if synchronize { try AtomicFile.synchronize(directory) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw LoRAError(.writeFailed, at: target.path, "cannot write the config: \(error)")
        }
    }
}
