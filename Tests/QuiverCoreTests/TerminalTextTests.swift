import QuiverCore
import Testing

@Suite("TerminalText")
struct TerminalTextTests {
    @Test func controlCharactersAreShownNotSent() {
        #expect(TerminalText.escape("team=\u{1B}[2Jnlp") == "team=\\u{1B}[2Jnlp")
        #expect(TerminalText.escape("a\u{7F}b\u{9B}c") == "a\\u{7F}b\\u{9B}c")
        #expect(TerminalText.escape("line\nnext\ttab ünïcode") == "line\nnext\ttab ünïcode")
        #expect(TerminalText.hasControlCharacters("x\ny") && TerminalText.hasControlCharacters("\u{0}"))
        #expect(!TerminalText.hasControlCharacters("plain text, ünïcode"))
    }
}
