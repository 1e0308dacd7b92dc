#!/usr/bin/env python3
"""Generates a benchmark registry: MODELS models x VERSIONS versions, one commit per registration
(interleaved across models, as a busy team would make them) plus deployment commits, written with
`git fast-import` so the files are exactly what mreg writes. Test tooling only."""
import hashlib, json, random, subprocess, sys, os

def canonical(obj):
    return json.dumps(obj, sort_keys=True, indent=2, separators=(",", ": ")) + "\n"

def main(path, models=100, versions=100):
    rng = random.Random(7)
    os.makedirs(path, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    p = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=path, stdin=subprocess.PIPE)
    out = p.stdin
    t = [1700000000]
    mark = [0]

    def blob(data):
        mark[0] += 1
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark[0], len(data)))
        out.write(data + b"\n")
        return mark[0]

    def commit(message, files, first=False):
        t[0] += 60
        msg = message.encode()
        out.write(b"commit refs/heads/main\n")
        out.write(b"author Bench <bench@example.com> %d +0000\n" % t[0])
        out.write(b"committer Bench <bench@example.com> %d +0000\n" % t[0])
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        for fpath, m in files:
            out.write(b"M 100644 :%d %s\n" % (m, fpath.encode()))

    config = open(os.path.join(os.path.dirname(__file__), "../../templates/files/mreg.yaml")).read().replace("{{name}}", "bench")
    empty = lambda env: "schemaVersion: 1\nenvironment: %s\nmodels: {}\n" % env
    commit("Initialize registry bench", [
        ("mreg.yaml", blob(config.encode())),
        ("deploy/staging.yaml", blob(empty("staging").encode())),
        ("deploy/production.yaml", blob(empty("production").encode())),
    ])
    deployed = {"staging": {}, "production": {}}
    for v in range(1, versions + 1):
        for m in range(1, models + 1):
            name = "m%03d" % m
            files = []
            if v == 1:
                files.append(("models/%s/model.yaml" % name, blob(("schemaVersion: 1\nname: %s\ntask: classification\ntarget: y\n" % name).encode())))
            weights = [round(rng.gauss(0, 1), 6) for _ in range(60)]
            model = canonical({"schemaVersion": 1, "format": "bench", "weights": weights}).encode()
            acc = round(0.80 + rng.random() * 0.19, 6)
            metrics = canonical({"schemaVersion": 1, "splits": {"test": {"accuracy": acc, "f1_macro": round(acc - 0.02, 6)}, "validation": {"accuracy": round(acc + 0.005, 6)}}}).encode()
            created = "2023-11-14T%02d:%02d:00Z" % ((v * m) % 24, m % 60)
            listed = sorted([("metrics.json", metrics), ("model.json", model)])
            vy = "schemaVersion: 1\nmodel: %s\nversion: v%d\ncreated: %s\nauthor: Bench <bench@example.com>\nsource:\n  kind: register\n  command: mreg register %s --from build\nparams:\n  C: %s\nfiles:\n" % (name, v, created, name, round(rng.random() * 10, 3))
            for fp, data in listed:
                vy += "  - path: %s\n    size: %d\n    sha256: %s\n" % (fp, len(data), hashlib.sha256(data).hexdigest())
            card = "---\nschemaVersion: 1\nmodel: %s\nversion: v%d\nowner: bench\nlicense: apache-2.0\nintended_use: benchmarks\nlimitations: none\nmodel-index:\n  - name: %s-v%d\n    results:\n      - metrics:\n          - {type: accuracy, value: %s}\n          - {type: f1_macro, value: %s}\n---\n# %s v%d\n" % (name, v, name, v, acc, round(acc - 0.02, 6), name, v)
            base = "models/%s/v%d/" % (name, v)
            files += [(base + "model.json", blob(model)), (base + "metrics.json", blob(metrics)),
                      (base + "version.yaml", blob(vy.encode())), (base + "card.md", blob(card.encode()))]
            commit("Register %s v%d\n\nMreg-Model: %s\nMreg-Version: v%d\n" % (name, v, name, v), files)
        if v % 10 == 0:
            for env, lag in (("staging", 0), ("production", 5)):
                for m in range(1, models + 1):
                    deployed[env]["m%03d" % m] = "v%d" % max(1, v - lag)
                text = "schemaVersion: 1\nenvironment: %s\nmodels:\n" % env
                for name in sorted(deployed[env]):
                    text += "  %s:\n    version: %s\n" % (name, deployed[env][name])
                commit("Promote to %s at round %d" % (env, v), [("deploy/%s.yaml" % env, blob(text.encode()))])
    out.close()
    if p.wait() != 0:
        sys.exit("fast-import failed")
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=True)

if __name__ == "__main__":
    main(sys.argv[1], *(int(x) for x in sys.argv[2:]))
