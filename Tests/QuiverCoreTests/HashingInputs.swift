/// Inputs shared by the SHA-256 suites: reproducible bytes, and a stream that hands them over in pieces.
enum HashingInputs {
    /// `count` bytes from a linear congruential generator seeded with `seed`.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    /// Feeds `data` to `feed` in pieces of the given sizes (cycled), as a file's windows would come.
    static func feed(_ data: [UInt8], inPieces pieces: [Int], to feed: (UnsafeRawBufferPointer) -> Void) {
        data.withUnsafeBytes { all in
            var start = 0, index = 0
            while start < all.count {
                let end = min(all.count, start + pieces[index % pieces.count])
                feed(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                start = end
                index += 1
            }
        }
    }
}
