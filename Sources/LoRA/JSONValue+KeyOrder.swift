import SafeTensors

extension JSONValue {
    /// Equality where object members may come in any order, as JSON defines it (`JSONValue.==` keeps source order).
    ///
    /// The config writer sorts keys like PEFT's `json.dumps(sort_keys=True)`, so an unknown field holding an object
    /// written in another order must still compare equal after a write-then-read.
    func equalsIgnoringKeyOrder(_ other: JSONValue) -> Bool {
        switch (self, other) {
        case let (.array(a), .array(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.equalsIgnoringKeyOrder($1) }
        case let (.object(a), .object(b)):
            // The parser guarantees unique keys, so equal counts plus a match for every key means the same members.
            guard a.count == b.count else { return false }
            return a.allSatisfy { member in
                b.first { $0.key == member.key }.map { member.value.equalsIgnoringKeyOrder($0.value) } ?? false
            }
        default:
            return self == other
        }
    }
}
