#!/usr/bin/env python3
"""Benchmarks for `mreg monitor` (run by scripts/bench/monitor.sh).

alarms: false-positive and detection rates on penguins windows.
  Ten seeded splits of the 2007-08 rows: two thirds train a model with `mreg train` (year dropped),
  the rest are held out. Per split and window size, 20 windows (200 in all) of
    - held-out 2007-08 rows            (in distribution: every alarm is a false positive),
    - 2009 rows                        (a later season),
    - held-out rows + 1 baseline std in bill_length_mm (a synthetic shift),
  are written as capture files in the `mreg serve` format and judged by `mreg monitor`.
speed: a 20-feature model and 1,000,000 captured rows; times one `mreg monitor` run.
"""
import csv, json, os, random, shutil, subprocess, sys, tempfile, time

MREG = os.environ.get("MREG", "mreg")
FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
CATEGORICAL = {"island", "sex"}
ENV = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
           GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com", MREG_REGISTRY="")


def run(args, cwd, check=True):
    r = subprocess.run([MREG] + args, cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"mreg {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def num(text):
    """A number as the server writes it (Swift's shortest form, integral values with .0)."""
    v = float(text)
    return f"{v:.1f}" if v == int(v) and abs(v) < 1e15 else repr(v)


def record(rows, model="penguins", version="v1", ts="2026-11-22T18:00:00.000Z", rid=None, shift=None):
    inputs = []
    for f in FEATURES:
        values = []
        for r in rows:
            cell = r[f]
            if cell in ("", "NA"):
                values.append("null")
            elif f in CATEGORICAL:
                values.append(json.dumps(cell))
            else:
                v = float(cell) + (shift.get(f, 0) if shift else 0)
                values.append(num(repr(v)))
        inputs.append(f'"{f}":[{",".join(values)}]')
    labels = ",".join(json.dumps(r["species"]) for r in rows)
    rid = "null" if rid is None else json.dumps(rid)
    return (f'{{"ts":"{ts}","id":{rid},"model":"{model}","version":"{version}","rows":{len(rows)},'
            f'"inputs":{{{",".join(inputs)}}},"outputs":{{"label":[{labels}],"probabilities":[]}}}}\n')


def write_window(path, rows, rng, shift=None):
    with open(path, "w") as out:
        i = 0
        while i < len(rows):
            k = rng.randint(1, 3)
            out.write(record(rows[i:i + k], shift=shift))
            i += k


def alarms(penguins_csv, sizes, splits=10, per_split=20):
    with open(penguins_csv) as f:
        data = list(csv.DictReader(f))
    early = [r for r in data if r["year"] in ("2007", "2008")]
    late = [r for r in data if r["year"] == "2009"]
    results = {}
    work = tempfile.mkdtemp(prefix="mreg-monitor-bench-")
    try:
        for split in range(splits):
            rng = random.Random(1000 + split)
            rows = early[:]
            rng.shuffle(rows)
            cut = len(rows) * 2 // 3
            train, held = rows[:cut], rows[cut:]
            reg = os.path.join(work, f"reg{split}")
            run(["init", reg], cwd=work)
            train_csv = os.path.join(work, f"train{split}.csv")
            with open(train_csv, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=["species"] + FEATURES, extrasaction="ignore")
                w.writeheader()
                w.writerows(train)
            run(["train", "penguins", "--data", train_csv, "--target", "species", "--seed", str(split)], cwd=reg)
            with open(os.path.join(reg, "models/penguins/v1/baseline.json")) as f:
                baseline = json.load(f)
            std = next(b for b in baseline["features"] if b["name"] == "bill_length_mm")["std"]
            for size in sizes:
                for scenario, pool, shift in (("in-distribution", held, None), ("2009", late, None),
                                              ("+1σ bill_length_mm", held, {"bill_length_mm": std})):
                    counts = results.setdefault((size, scenario), {"windows": 0, "alarms": 0, "reasons": {}, "insufficient": 0})
                    for w in range(per_split):
                        window = rng.sample(pool, min(size, len(pool)))
                        path = os.path.join(work, "window.jsonl")
                        write_window(path, window, rng, shift)
                        r = run(["monitor", "penguins@v1", "--capture", path, "--format", "json"], cwd=reg, check=False)
                        if r.returncode not in (0, 1):
                            sys.exit(f"mreg monitor failed: {r.stderr}")
                        report = json.loads(r.stdout)
                        counts["windows"] += 1
                        if report["status"] == "insufficient-data":
                            counts["insufficient"] += 1
                        if r.returncode == 1:
                            counts["alarms"] += 1
                            fired = sorted({f"{c['name']}" for ft in report["features"] for c in ft["checks"]
                                            if c["gated"] and not c["passed"]})
                            for name in fired:
                                counts["reasons"][name] = counts["reasons"].get(name, 0) + 1
            shutil.rmtree(reg)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"| window rows | scenario | windows | alarms | rate | checks that fired (windows) |")
    print(f"|---:|---|---:|---:|---:|---|")
    for (size, scenario), c in sorted(results.items(), key=lambda kv: (kv[0][0], ["in-distribution", "2009", "+1σ bill_length_mm"].index(kv[0][1]))):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(c["reasons"].items(), key=lambda kv: -kv[1])) or "–"
        print(f"| {size} | {scenario} | {c['windows']} | {c['alarms']} | {100 * c['alarms'] / c['windows']:.1f} % | {reasons} |")


def speed(rows_total=1_000_000, files=8):
    """A 20-feature model (16 numeric, 4 categorical) and a million captured rows."""
    work = tempfile.mkdtemp(prefix="mreg-monitor-speed-")
    try:
        rng = random.Random(7)
        numeric = [f"x{i:02d}" for i in range(16)]
        categorical = [f"c{i}" for i in range(4)]
        levels = ["red", "green", "blue", "amber", "violet"]
        train_csv = os.path.join(work, "synth.csv")
        with open(train_csv, "w") as f:
            f.write(",".join(numeric + categorical + ["label"]) + "\n")
            for _ in range(2000):
                xs = [rng.gauss(i, 1 + i / 10) for i in range(16)]
                cs = [rng.choice(levels) for _ in categorical]
                label = "yes" if xs[0] + xs[1] - 1 + (cs[0] == "red") > rng.gauss(0, 1) else "no"
                f.write(",".join([f"{x:.4f}" for x in xs] + cs + [label]) + "\n")
        reg = os.path.join(work, "reg")
        run(["init", reg], cwd=work)
        run(["train", "synth", "--data", train_csv, "--target", "label", "--algorithm", "logistic"], cwd=reg)
        capture = os.path.join(work, "capture")
        os.makedirs(capture)
        t0 = time.time()
        written = 0
        per_file = rows_total // files
        for n in range(files):
            with open(os.path.join(capture, f"capture-20261122T180000Z-4242-{n + 1:06d}.jsonl"), "w") as out:
                left = per_file
                seq = 0
                buf = []
                while left > 0:
                    k = min(left, rng.randint(1, 16))
                    cols = []
                    for i, name in enumerate(numeric):
                        cols.append(f'"{name}":[' + ",".join(repr(round(rng.gauss(i, 1 + i / 10), 4)) for _ in range(k)) + "]")
                    for name in categorical:
                        cols.append(f'"{name}":[' + ",".join('"' + rng.choice(levels) + '"' for _ in range(k)) + "]")
                    labels = ",".join('"yes"' if rng.random() < 0.5 else '"no"' for _ in range(k))
                    probs = ",".join("[0.25,0.75]" for _ in range(k))
                    seq += 1
                    buf.append(f'{{"ts":"2026-11-22T18:{seq // 60000 % 60:02d}:{seq // 1000 % 60:02d}.{seq % 1000:03d}Z","id":"req-{n}-{seq}",'
                               f'"model":"synth","version":"v1","rows":{k},"inputs":{{{",".join(cols)}}},'
                               f'"outputs":{{"label":[{labels}],"probabilities":[{probs}]}}}}\n')
                    left -= k
                    written += k
                    if len(buf) >= 1000:
                        out.write("".join(buf))
                        buf = []
                out.write("".join(buf))
        size = sum(os.path.getsize(os.path.join(capture, f)) for f in os.listdir(capture))
        print(f"generated {written} rows in {files} files, {size / 1e6:.0f} MB, in {time.time() - t0:.0f} s")
        times = []
        for _ in range(3):
            t = time.time()
            r = run(["monitor", "synth@v1", "--capture", capture, "--format", "json"], cwd=reg, check=False)
            times.append(time.time() - t)
            if r.returncode not in (0, 1):
                sys.exit(f"mreg monitor failed: {r.stderr}")
        report = json.loads(r.stdout)
        print(f"mreg monitor over {report['window']['rows']} rows, {len(report['features'])} features: "
              f"{min(times):.2f} s best of 3 ({', '.join(f'{t:.2f}' for t in times)}), status {report['status']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "alarms":
        alarms(sys.argv[2], [int(s) for s in sys.argv[3].split(",")])
    elif what == "speed":
        speed(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
