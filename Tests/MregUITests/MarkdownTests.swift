import MregUI
import Testing

@Suite struct MarkdownTests {
    @Test func rawHTMLIsText() {
        let html = Markdown.html("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>")
        #expect(html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n<p>&lt;img src=x onerror=alert(2)&gt;</p>\n")
    }

    @Test func blocksAndInlines() {
        let html = Markdown.html("# Title\n\nSome **bold** and *em* and `x<y`.\n\n- one\n- two\n\n1. first\n\n```\n<b>code</b>\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
        #expect(html.contains("<h3>Title</h3>"))
        #expect(html.contains("<p>Some <strong>bold</strong> and <em>em</em> and <code>x&lt;y</code>.</p>"))
        #expect(html.contains("<ul><li>one</li><li>two</li></ul>"))
        #expect(html.contains("<ol><li>first</li></ol>"))
        #expect(html.contains("<pre><code>&lt;b&gt;code&lt;/b&gt;</code></pre>"))
        #expect(html.contains("<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>"))
    }

    @Test func onlyFragmentLinksAreLinks() {
        #expect(Markdown.html("[up](#usage)") == "<p><a href=\"#usage\">up</a></p>\n")
        #expect(Markdown.html("[x](javascript:alert(1))").contains("href") == false)
        #expect(Markdown.html("[x](https://example.com/a\"b)") == "<p>x (<span class=\"mono\">https://example.com/a&quot;b</span>)</p>\n")
        #expect(Markdown.html("[x](notes.md)").contains("<a ") == false)
    }

    @Test func escapesEverySpecialCharacter() {
        #expect(HTML.escape("<a href=\"x\" title='y'>&</a>\u{01}") == "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;\u{FFFD}")
    }
}
