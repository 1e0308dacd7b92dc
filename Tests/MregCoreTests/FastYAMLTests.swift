import Foundation
import Testing

@testable import MregCore

@Suite struct FastYAMLTests {
    static let documents: [String] = [
        RegistryConfig.defaults(name: "demo").render(),
        Manifest(environment: "p", models: ["a": Deployment(version: "v1", canary: Canary(version: "v2", weight: 5), hosts: ["h1"])]).render(),
        ModelSpec(name: "m", task: "classification", target: "y", description: "a: b # not a comment", features: [FeatureDeclaration(name: "x", type: "numeric")]).render(),
        "a: 1\nb: -2\nc: 0.5\nd: 1e-05\ne: -1.5E+3\nf: 10\ng: 0\n",
        "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: ~\nh: null\ni:\nj: Null\nk: TRUE\n",
        "a: [1, two, 'three', \"four\", [5], {six: 6}]\nb: {x: 1, y: [a, b], z: {}}\nc: []\nd: {}\n",
        "# comment\nlist:\n- a\n- b: 1\n  c: 2\n-\n  - nested\n- - x\nafter: 1\n",
        "key: 'it''s'\nk2: \"esc \\\" \\\\ \\n \\t \\u00e9\"\nk3: plain text with spaces   # trailing comment\n",
        "a:\n  b:\n    c: deep\n  d: [x]\ne: 'quoted: colon'\nf: url://x.y/z?q=1\n",
        "a: 0x1F\nb: 1_000\nc: 012\nd: .5\ne: 1:30\nf: 2026-01-02\ng: 2026-01-02T03:04:05Z\nh: +1\n",
        "a: &anchor 1\nb: *anchor\n",
        "a: |\n  block\n  text\nb: >\n  folded\n",
        "a: multi\n  line plain\n",
        "\"quoted key\": 1\n'single': 2\n",
        "a:\n- 1\n- 2\nb: 3\n",
        "a: !tag x\n",
        "a: x:y\nb: x :y\nc: 'x' # c\nd: \"#\"\ne: a#b\n",
        "- 1\n- 2\n",
        "a: 1\n a: 2\n",
        "a:\n  - x: 1\n    y:\n      - z\n  - w\n",
        "emoji: 🙂\ncjk: 模型\nü: 1\n",
        "a: .inf\n",
        "a: [1, 2\n",
        "a: b: c\n",
        "empty:\n\n\nnext: 1\n",
        "a: \"\"\nb: ''\n",
        "- a: 1\n  b: [2, 3]\n- a: 4\n",
        "a: { x: 1 , y : 2 }\n",
        "a: [ ]\nb: { }\n",
    ]

    @Test(arguments: documents)
    func agreesWithYams(text: String) {
        let fast = FastYAML.parse(text)
        let full = try? YAML.parseWithYams(text, file: "x.yaml")
        if let fast {
            #expect(fast == full, "fast \(fast) vs yams \(String(describing: full)) for:\n\(text)")
        }
    }

    @Test func fastPathCoversWhatMregWrites() {
        for text in FastYAMLTests.documents.prefix(3) { #expect(FastYAML.parse(text) != nil, "\(text)") }
        var record = VersionRecord(model: "m", version: "v1", created: "2026-11-22T18:00:00Z", author: "A <a@b.c>",
                                   source: VersionSource(kind: "train", command: "mreg train m --data 'x y.csv'"))
        record.params = ["C": 0.5, "layers": [16, 8], "name": "x"]
        record.files = [VersionFile(path: "model.json", size: 1, sha256: String(repeating: "0", count: 64))]
        #expect(FastYAML.parse(record.render()) != nil)
        #expect(FastYAML.parse(record.render()) == (try? YAML.parseWithYams(record.render(), file: "v")))
    }
}

extension FastYAMLTests {
    @Test func fastPathHandlesTheCommonForms() {
        let handled = FastYAMLTests.documents.filter { FastYAML.parse($0) != nil }.count
        // Anchors, block scalars, multi-line plain, tags, odd numbers, broken flow and bad indentation go to Yams.
        #expect(handled >= 17, "only \(handled) handled")
        #expect(FastYAML.parse("a: &anchor 1\nb: *anchor\n") == nil)
        #expect(FastYAML.parse("a: 0x1F\n") == nil)
        #expect(FastYAML.parse("a: 1\n a: 2\n") == nil)
    }
}
