import Foundation

/// A counter-based generator: each draw is a pure function of (key, counter), so a mask does not depend on
/// the order modules are visited in or on how many threads share the work.
///
/// The key mixes the seed, a hash of the module path, the input index and a tensor id with SplitMix64's
/// finalizer; each element's uniform comes from the finalizer applied to (key + golden-ratio · index), the
/// SplitMix64 stream read at an arbitrary position.
struct CounterRNG: Sendable {
    enum Tensor: UInt64, Sendable { case loraA = 1, loraB = 2, delta = 3, gaussian = 4, sample = 5 }

    let key: UInt64

    init(seed: UInt64, modulePath: String, input: Int, tensor: Tensor) {
        var k = Self.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
        k = Self.mix(k ^ Self.fnv1a(modulePath))
        k = Self.mix(k ^ (UInt64(truncatingIfNeeded: input) &* 0xD6E8_FEB8_6659_FD93))
        k = Self.mix(k ^ (tensor.rawValue &* 0xA076_1D64_78BD_642F))
        key = k
    }

    /// 64 random bits for element `index`.
    @inline(__always)
    func bits(_ index: Int) -> UInt64 {
        Self.mix(key &+ (UInt64(truncatingIfNeeded: index) &+ 1) &* Self.golden)
    }

    /// A uniform Float32-exact value in [0, 1) for element `index` (24 random bits).
    @inline(__always)
    func uniform(_ index: Int) -> Float {
        Float(bits(index) >> 40) * 0x1p-24
    }

    /// A standard normal value for element `index` (Box-Muller on two 32-bit halves).
    func normal(_ index: Int) -> Float {
        let b = bits(index)
        let u1 = (Double(b >> 32) + 1) * 0x1p-32  // (0, 1]
        let u2 = Double(b & 0xFFFF_FFFF) * 0x1p-32
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// 2^64 / φ, the SplitMix64 increment (`quiver_dare_mask` in CMergeKernels uses the same).
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
