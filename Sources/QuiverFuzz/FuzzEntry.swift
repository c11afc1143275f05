// libFuzzer entry point for the safetensors file parser and the adapter config parser.
// Built only with QUIVER_FUZZ=1 and -sanitize=fuzzer (see scripts/fuzz.sh); never part of a normal build.
import Foundation
import LoRA
import SafeTensors

/// Which parser to fuzz, from QUIVER_FUZZ_TARGET: "safetensors" (default) or "config".
private let fuzzConfig = ProcessInfo.processInfo.environment["QUIVER_FUZZ_TARGET"] == "config"

/// Besides "no crash", each accepted input must survive a write-then-parse round trip unchanged; a violation
/// traps so libFuzzer records it as a crash with the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    if fuzzConfig {
        fuzzAdapterConfig(Data(bytes))
    } else {
        fuzzSafeTensors(bytes)
    }
    return 0
}

private func fuzzSafeTensors(_ bytes: UnsafeRawBufferPointer) {
    guard let (header, _) = try? SafeTensorsHeader.parseFile(bytes, file: "fuzz") else { return }
    let tensors = header.tensors.map {
        TensorToWrite(name: $0.name, shape: $0.shape, dtype: $0.dtype, rawBytes: [UInt8](repeating: 0, count: $0.byteCount))
    }
    guard let rewritten = try? SafeTensorsWriter.headerBytes(tensors, metadata: header.metadata) else {
        preconditionFailure("an accepted header could not be written back")
    }
    let dataLength = tensors.reduce(0) { $0 + $1.shape.reduce($1.dtype.byteSize, *) }
    let file = rewritten + [UInt8](repeating: 0, count: dataLength)
    let reparsed = file.withUnsafeBytes { try? SafeTensorsHeader.parseFile($0, file: "fuzz") }
    precondition(reparsed?.0 == header, "write-then-read changed the header")
}

private func fuzzAdapterConfig(_ data: Data) {
    guard let config = try? AdapterConfig.parse(data, file: "fuzz") else { return }
    guard let written = try? config.jsonData(), let again = try? AdapterConfig.parse(written, file: "fuzz-again") else {
        preconditionFailure("an accepted config could not be written back and re-read")
    }
    precondition(again == config, "write-then-read changed the config")
    for path in ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj", "x"] {
        _ = config.scaling(for: path)
        _ = config.targets(path)
    }
}

/// libFuzzer's documented driver entry (`LLVMFuzzerRunDriver`, in libclang_rt.fuzzer).
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM links executables with `main` aliased to `<Target>_main`, which keeps libFuzzer's own `main` out of the
/// link; this is that symbol, and it hands control to libFuzzer's driver.
@_cdecl("QuiverFuzz_main")
public func quiverFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { fuzzOneInput($0, $1) }
}
