import QuiverCore
import Testing

@Suite struct MarkupTextTests {
    @Test func theFiveMarkupCharactersBecomeReferences() {
        #expect(MarkupText.escape(#"<a href="x" title='y'>&amp;</a>"#) == "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;")
    }

    @Test func controlCharactersAreReplacedAndTextIsKept() {
        #expect(MarkupText.escape("a\u{1B}[31mb\u{0}c\u{85}") == "a\u{FFFD}[31mb\u{FFFD}c\u{FFFD}")
        #expect(MarkupText.escape("tab\there\nnext · ünïcödé @1") == "tab\there\nnext · ünïcödé @1")
    }
}
