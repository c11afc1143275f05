import Foundation

/// The SHA-256 chaining states of a file at every `stride` bytes (after `stride`, `2·stride`, … bytes; none at the
/// end), recorded in the one pass that computes its digest. With them a file's digest can be checked in pieces,
/// each on its own, on any thread, as its bytes arrive: a piece that starts at a boundary continues from that
/// boundary's state and must arrive at the next boundary's, and the last piece at the digest
/// (``SHA256ChainSegment``).
///
/// Checked like that, the pieces compose exactly the one-stream computation from SHA-256's initial state (the
/// first piece starts there, not from a recorded state), so a file passes only if it hashes to the digest,
/// whatever the recorded states say. Wrong states can only refuse a good file, never pass a bad one: a reader
/// that is refused hashes the file in one stream to decide.
public struct SHA256Chain: Sendable, Equatable {
    /// The stride recorded at registration: 8 MiB (a 1 GiB file has 127 states, 4 KiB).
    public static let defaultStride: Int64 = 8 << 20

    /// Bytes between recorded states; a multiple of the 64-byte block.
    public let stride: Int64
    /// The eight working words a..h at each boundary, in order.
    public let states: [UInt32]

    /// The largest stride a chain may have (1 TiB): far above any recorded one, and small enough that ranges of
    /// whole strides cannot overflow.
    public static let maximumStride: Int64 = 1 << 40

    /// Nil unless `stride` is a multiple of 64 from 64 to ``maximumStride`` and `states` holds whole states.
    public init?(stride: Int64, states: [UInt32]) {
        guard stride > 0, stride <= Self.maximumStride, stride % 64 == 0, states.count % 8 == 0 else { return nil }
        self.stride = stride
        self.states = states
    }

    /// How many boundaries have a state.
    public var boundaries: Int { states.count / 8 }

    /// Whether this machine can record and use chains (the x86 SHA extensions).
    public static var available: Bool { SHA256Pair.accelerated }

    /// Whether the chain has a state at every boundary inside a file of `size` bytes (at least one: a file of one
    /// stride has nothing to split), and this machine can use it.
    public func fits(fileSize size: Int64) -> Bool {
        Self.available && size > 0 && boundaries > 0 && Int64(boundaries) == (size - 1) / stride
    }

    /// The stride as 8 bytes, then every word, big-endian: the catalog's form.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + states.count * 4)
        for shift in Swift.stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: UInt64(stride) >> UInt64(shift))) }
        for word in states {
            bytes += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
        }
        return bytes
    }

    /// Reads ``encoded``; nil for bytes of another shape.
    public init?(encoded bytes: [UInt8]) {
        guard bytes.count >= 8, (bytes.count - 8) % 32 == 0 else { return nil }
        let stride = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard stride <= UInt64(Self.maximumStride) else { return nil }
        var states: [UInt32] = []
        states.reserveCapacity((bytes.count - 8) / 4)
        var index = 8
        while index < bytes.count {
            states.append(bytes[index..<(index + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            index += 4
        }
        self.init(stride: Int64(stride), states: states)
    }

    /// The state after `boundary · stride` bytes (boundary 0: SHA-256's initial state).
    func state(atBoundary boundary: Int) -> [UInt32] {
        boundary == 0 ? SHA256Stream().state : Array(states[((boundary - 1) * 8)..<(boundary * 8)])
    }

    /// A checker for the bytes of a file of `fileSize` bytes from `offset` (a multiple of the stride, inside the
    /// file) to `end` (a later boundary, or the file's end), which must hash to `expected` as a whole; with
    /// `readBack`, it checks the piece's strides two at a time (``SHA256ChainSegment``). Requires
    /// ``fits(fileSize:)``.
    public func segment(from offset: Int64, to end: Int64? = nil, fileSize: Int64, expected: SHA256Digest,
                        readBack: SHA256ChainReadBack? = nil) -> SHA256ChainSegment
    {
        let end = end ?? fileSize
        precondition(offset % stride == 0 && offset >= 0 && offset < fileSize && fits(fileSize: fileSize))
        precondition(end > offset && end <= fileSize && (end == fileSize || end % stride == 0))
        return SHA256ChainSegment(chain: self, start: offset, end: end, fileSize: fileSize, expected: expected, readBack: readBack)
    }

    /// The digest of `size` bytes fed by `stream` (in order, in any pieces) and its chain at `stride`, in one pass of
    /// one stream. The chain is nil for a file of one stride or less (nothing to split), a stream of another length
    /// than `size`, or a machine without the SHA extensions (then the digest comes from swift-crypto).
    public static func digest(
        size: Int64, stride: Int64 = defaultStride, _ stream: ((UnsafeRawBufferPointer) -> Void) -> Void
    ) -> (digest: SHA256Digest, chain: SHA256Chain?) {
        precondition(stride > 0 && stride % 64 == 0, "a chain's stride is a positive multiple of 64")
        guard available, size > stride else {
            var hasher = SHA256Hasher()
            stream { hasher.update($0) }
            return (hasher.finalize(), nil)
        }
        var hasher = SHA256Stream()
        var states: [UInt32] = []
        var position: Int64 = 0
        var boundaries = SHA256ChainBoundaries(stride: stride, fileSize: size)
        stream { piece in
            var rest = piece
            while !rest.isEmpty {
                // Pieces stop at every boundary inside the file: a state is taken at each.
                let end = boundaries.limit(position + Int64(rest.count))
                let head = Int(end - position)
                hasher.update(UnsafeRawBufferPointer(rebasing: rest[..<head]))
                position = end
                rest = UnsafeRawBufferPointer(rebasing: rest[head...])
                // A boundary is a block boundary: nothing is buffered.
                if boundaries.reached(position) { states += hasher.state }
            }
        }
        guard position == size else { return (hasher.finalize(), nil) }
        return (hasher.finalize(), states.isEmpty ? nil : SHA256Chain(stride: stride, states: states))
    }
}

/// Checks one piece of a file against its ``SHA256Chain``: fed the piece's bytes in order from its start, it
/// hashes each stride from its recorded start state and compares the state at the stride's end (the digest, for the
/// file's last stride). One per thread; ``reset()`` starts the piece over (a retried transfer).
///
/// Given a way to read the file back (``SHA256ChainReadBack``), it checks the piece's strides two at a time: the
/// first of each pair is not hashed as it arrives; while the second arrives, each of its pieces is hashed
/// interleaved on one core (``quiver_sha256_blocks_x2``) with the same span of the first, read back from the file.
/// Interleaved, the two cost little more than one. A piece with an odd number of strides checks its last one
/// alone, as it arrives.
public struct SHA256ChainSegment {
    private let chain: SHA256Chain
    private let start: Int64
    private let end: Int64
    private let fileSize: Int64
    private let expected: SHA256Digest
    private let readBack: SHA256ChainReadBack?
    /// Where the bytes fed so far end.
    private var position: Int64
    /// The stride arriving: hashed as it arrives (alone, or as the second of a pair).
    private var stream = SHA256Stream()
    /// The first stride of the pair whose second is arriving, read back from the file.
    private var partner = SHA256Stream()
    /// Every stride before this offset arrived at its recorded state.
    private var checked: Int64
    private var mismatch = false

    init(chain: SHA256Chain, start: Int64, end: Int64, fileSize: Int64, expected: SHA256Digest, readBack: SHA256ChainReadBack?) {
        self.chain = chain
        self.start = start
        self.end = end
        self.fileSize = fileSize
        self.expected = expected
        self.readBack = readBack
        position = start
        checked = start
    }

    /// Back to the piece's start.
    public mutating func reset() {
        self = SHA256ChainSegment(chain: chain, start: start, end: end, fileSize: fileSize, expected: expected, readBack: readBack)
    }

    private enum Role { case alone, first, second }

    /// Stride `index`'s part: the first of a pair when the piece holds the next stride too and the file can be read
    /// back, the second when it follows such a first, else alone.
    private func role(of index: Int) -> Role {
        guard readBack != nil else { return .alone }
        let startIndex = Int(start / chain.stride)
        if (index - startIndex) % 2 == 1 { return .second }
        return (Int64(index) + 1) * chain.stride < min(end, fileSize) ? .first : .alone
    }

    /// The next bytes of the piece. Throws only what reading the file back throws.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) throws {
        let stride = chain.stride
        var rest = bytes
        while !rest.isEmpty {
            let index = Int(position / stride)
            let strideStart = Int64(index) * stride
            let strideEnd = min(strideStart + stride, fileSize)
            let head = Int(min(Int64(rest.count), strideEnd - position))
            let piece = UnsafeRawBufferPointer(rebasing: rest[..<head])
            let role = role(of: index)
            if position == strideStart, role != .first {
                stream = SHA256Stream(state: chain.state(atBoundary: index), length: UInt64(strideStart))
                if role == .second {
                    partner = SHA256Stream(state: chain.state(atBoundary: index - 1), length: UInt64(strideStart - stride))
                }
            }
            switch role {
            case .first: break
            case .alone: stream.update(piece)
            case .second: try hashWithPartner(piece, at: position - strideStart, partnerStart: strideStart - stride)
            }
            position += Int64(head)
            rest = UnsafeRawBufferPointer(rebasing: rest[head...])
            if position == strideEnd, role != .first {
                if role == .second {
                    // The file's last stride can be shorter than its partner: the partner's rest comes alone.
                    let length = strideEnd - strideStart
                    if length < stride { try hashPartnerAlone(from: strideStart - stride + length, to: strideStart) }
                    if partner.state != chain.state(atBoundary: index) { mismatch = true }
                }
                let arrived = strideEnd == fileSize
                    ? stream.finalize() == expected : stream.state == chain.state(atBoundary: index + 1)
                if !arrived { mismatch = true }
                if !mismatch { checked = strideEnd }
            }
        }
    }

    /// Hashes `piece` (at `offset` in its stride) beside the same span of the partner stride, read back.
    private mutating func hashWithPartner(_ piece: UnsafeRawBufferPointer, at offset: Int64, partnerStart: Int64) throws {
        guard let readBack else { return }
        var done = 0
        while done < piece.count {
            let count = min(readBack.capacity, piece.count - done)
            let partnerBytes = try readBack.read(at: partnerStart + offset + Int64(done), count: count)
            SHA256Stream.updateTogether(&partner, partnerBytes, &stream, UnsafeRawBufferPointer(rebasing: piece[done..<(done + count)]))
            done += count
        }
    }

    /// Hashes the partner stride's bytes from `from` to `to`, read back, alone.
    private mutating func hashPartnerAlone(from: Int64, to: Int64) throws {
        guard let readBack else { return }
        var at = from
        while at < to {
            let count = Int(min(Int64(readBack.capacity), to - at))
            partner.update(try readBack.read(at: at, count: count))
            at += Int64(count)
        }
    }

    /// Whether the bytes fed so far are the piece up to `end` (a boundary, or the file's end) and passed: every
    /// stride on the way arrived at its recorded state, and the file's last at the whole file's digest.
    public func passed(through end: Int64) -> Bool {
        !mismatch && position == end && checked == end && end > start
    }
}

/// How a ``SHA256ChainSegment`` reads back bytes it was fed earlier (from the file they were written to), into a
/// buffer of its own: 256 KiB, which stays in the L2 cache between the read and the hash.
public final class SHA256ChainReadBack {
    /// Fills the buffer with the file's bytes at the offset, or throws.
    public typealias Read = (_ offset: Int64, _ into: UnsafeMutableRawBufferPointer) throws -> Void

    private let readInto: Read
    private let buffer: UnsafeMutableRawBufferPointer
    var capacity: Int { buffer.count }

    public init(capacity: Int = 256 << 10, _ read: @escaping Read) {
        readInto = read
        buffer = .allocate(byteCount: max(capacity, 64), alignment: 64)
    }

    deinit { buffer.deallocate() }

    func read(at offset: Int64, count: Int) throws -> UnsafeRawBufferPointer {
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
        try readInto(offset, target)
        return UnsafeRawBufferPointer(target)
    }
}

/// Where a chain's states sit in a file (every `stride` bytes, strictly inside it), walked in order by a hasher fed
/// pieces: where a piece must stop so the hasher's state can be taken there, and whether it stopped at one. The one
/// walk behind recording a chain (``SHA256Chain/digest(size:stride:_:)``, and the one pass of both a weights file's
/// digests).
public struct SHA256ChainBoundaries {
    public let stride: Int64
    public let fileSize: Int64
    /// The boundary ahead; none is left once it lies at or past the file's end.
    private var next: Int64

    /// The boundaries after `start` (a boundary itself, or the file's start).
    public init(stride: Int64, fileSize: Int64, from start: Int64 = 0) {
        self.stride = stride
        self.fileSize = fileSize
        next = start + stride
    }

    /// Where a piece reaching to `end` must stop instead: the boundary ahead, when it lies inside the file and
    /// before `end`.
    public func limit(_ end: Int64) -> Int64 {
        next < fileSize ? min(end, next) : end
    }

    /// Whether `position` is the boundary ahead (inside the file); if so the walk moves on to the next one.
    public mutating func reached(_ position: Int64) -> Bool {
        guard position == next, next < fileSize else { return false }
        next += stride
        return true
    }
}
