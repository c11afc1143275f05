import SafeTensors

extension LoRAAdapter {
    /// Refuses weights holding NaN or ±Inf, naming the tensor and element. Reads every float tensor once.
    public func requireFiniteWeights() throws {
        guard let bad = weights.firstNonFinite() else { return }
        throw LoRAError(
            .nonFiniteWeight, at: "\(directory.lastPathComponent)/\(Self.weightsFileName)",
            "tensor \(bad.tensor) holds \(bad.value) at element \(bad.index)")
    }
}
