import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SHA256Chain {
    /// Stride `index` of a file holds its bytes from `index · stride` to the next boundary or the file's end; a file
    /// the chain fits has ``boundaries`` + 1 strides.
    public var strideCount: Int { boundaries + 1 }

    /// Re-reads the regular file at `path` and returns whether it still hashes to `expected`, checking its strides
    /// against the recorded states: two strides at a time interleaved on one core (``quiver_sha256_blocks_x2``), on
    /// up to `workers` threads. The strides compose the one-stream computation from SHA-256's initial state to the
    /// digest, so this accepts exactly the files that hash to `expected`; wrong states can only refuse a good file
    /// (a caller that is refused hashes the file in one stream to decide).
    ///
    /// Returns false for a file of another size. Throws ``VerificationError`` when the chain does not fit a file of
    /// `size` bytes (or this machine cannot use chains), the path is not a readable regular file, or it shrinks
    /// while being read.
    public func verify(fileAt path: String, size: Int64, expected: SHA256Digest, workers: Int) throws -> Bool {
        try verify(fileAt: path, size: size, expected: expected, strides: 0..<strideCount, workers: workers)
    }

    /// The same for the strides in `strides` only: whether each arrives at the state recorded at its end, the
    /// file's last stride at `expected` (a multipart upload checks each part's strides once the part went out).
    public func verify(
        fileAt path: String, size: Int64, expected: SHA256Digest, strides: Range<Int>, workers: Int
    ) throws -> Bool {
        guard fits(fileSize: size), strides.lowerBound >= 0, strides.upperBound <= strideCount, !strides.isEmpty else {
            throw VerificationError.unusableChain
        }
        let file: (descriptor: Int32, size: Int64)
        do {
            file = try RegularFile.open(path)
        } catch {
            throw VerificationError.unreadable(error.reason)
        }
        defer { close(file.descriptor) }
        guard file.size == size else { return false }
        let pairs = (strides.count + 1) / 2
        let descriptor = file.descriptor
        let passed = try ParallelMap.run(count: pairs, workers: workers) { pair in
            let first = strides.lowerBound + 2 * pair
            return try checkStrides(first, first + 1 < strides.upperBound ? first + 1 : nil, of: descriptor, size: size, expected: expected)
        }
        return passed.allSatisfy { $0 }
    }

    /// Hashes stride `a` and, when given, stride `b` side by side, each from the state recorded at its start, and
    /// says whether both arrive where the chain says.
    private func checkStrides(_ a: Int, _ b: Int?, of descriptor: Int32, size: Int64, expected: SHA256Digest) throws -> Bool {
        // Two pieces of 256 KiB: both stay in the L2 cache between the read and the hash.
        let chunk = 256 << 10
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * chunk, alignment: 64)
        defer { buffers.deallocate() }
        let bufferA = UnsafeMutableRawBufferPointer(rebasing: buffers[..<chunk])
        let bufferB = UnsafeMutableRawBufferPointer(rebasing: buffers[chunk...])
        var (streamA, positionA, endA) = start(ofStride: a, fileSize: size)
        var (streamB, positionB, endB) = b.map { start(ofStride: $0, fileSize: size) } ?? (SHA256Stream(), 0, 0)
        while positionA < endA || positionB < endB {
            let pieceA = try Self.read(descriptor, into: bufferA, at: positionA, count: Int(min(Int64(chunk), endA - positionA)))
            let pieceB = try Self.read(descriptor, into: bufferB, at: positionB, count: Int(min(Int64(chunk), endB - positionB)))
            SHA256Stream.updateTogether(&streamA, pieceA, &streamB, pieceB)
            positionA += Int64(pieceA.count)
            positionB += Int64(pieceB.count)
        }
        return arrived(streamA, atEndOfStride: a, expected: expected) && (b.map { arrived(streamB, atEndOfStride: $0, expected: expected) } ?? true)
    }

    /// A stream at the start of stride `index`, with the stride's byte range.
    private func start(ofStride index: Int, fileSize: Int64) -> (SHA256Stream, Int64, Int64) {
        let offset = Int64(index) * stride
        return (SHA256Stream(state: state(atBoundary: index), length: UInt64(offset)), offset, min(offset + stride, fileSize))
    }

    /// Whether a stream fed all of stride `index` is where the chain says: the next boundary's state, or for the
    /// last stride the digest.
    private func arrived(_ stream: SHA256Stream, atEndOfStride index: Int, expected: SHA256Digest) -> Bool {
        index == boundaries ? stream.finalize() == expected : stream.buffered == 0 && stream.state == state(atBoundary: index + 1)
    }

    /// `count` bytes at `offset` (a short file is an error: its size was checked).
    private static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, count: Int) throws
        -> UnsafeRawBufferPointer
    {
        let read: Int
        do throws(PositionalReadError) {
            read = try PositionalRead.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]), from: descriptor, at: offset)
        } catch {
            throw VerificationError.unreadable(error.message)
        }
        guard read == count else { throw VerificationError.shrank }
        return UnsafeRawBufferPointer(rebasing: buffer[..<count])
    }

    /// Why a file could not be checked against a chain.
    public enum VerificationError: Error, Equatable, LocalizedError {
        /// The chain does not fit the file (or this machine cannot use chains), or the strides asked for are not
        /// the file's.
        case unusableChain
        /// The file could not be opened or read (why).
        case unreadable(String)
        /// The file ended early while it was read.
        case shrank

        public var errorDescription: String? {
            switch self {
            case .unusableChain: "the recorded chain does not fit the file"
            case let .unreadable(why): why
            case .shrank: "it shrank while being read"
            }
        }
    }
}
