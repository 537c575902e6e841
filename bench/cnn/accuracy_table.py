"""Markdown table of bench/cnn/accuracy.sh runs: python3 bench/cnn/accuracy_table.py RUNS_DIR.
One row per run folder (its metrics.jsonl): method, sparsity, seed, epochs, final test accuracy, best test accuracy,
nonzeros per weight layer at the end, mean epoch seconds; then the mean +- std of configurations with several seeds."""
import json
import os
import statistics
import sys

root = sys.argv[1]
rows = []
for name in sorted(os.listdir(root)):
    f = os.path.join(root, name, "metrics.jsonl")
    if not os.path.isfile(f):
        continue
    with open(f) as fh:
        ms = [json.loads(line) for line in fh if line.strip()]
    with open(os.path.join(root, name + ".cmd")) as fh:
        cmd = fh.read().split()
    def opt(o, d):
        return cmd[cmd.index(o) + 1] if o in cmd else d
    rows.append(dict(name=name, method=opt("--method", "dense"), sparsity=float(opt("--sparsity", "0")),
                     seed=int(opt("--seed", "1")), epochs=len(ms), planned=int(opt("--epochs", "0")),
                     acc=ms[-1]["test_acc"], best=max(m["test_acc"] for m in ms),
                     nnz="/".join(str(v) for v in ms[-1]["nnz_per_layer"]),
                     epoch_s=statistics.mean(m["epoch_s"] for m in ms)))
print("| run | method | sparsity | seed | epochs | test acc (last) | best epoch | nnz per layer (end) | s / epoch |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    print(f"| {r['name']} | {r['method']} | {r['sparsity']:.0%} | {r['seed']} | {r['epochs']}/{r['planned']} | "
          f"{100 * r['acc']:.2f} % | {100 * r['best']:.2f} % | {r['nnz']} | {r['epoch_s']:.1f} |")
groups = {}
for r in rows:
    if r["epochs"] == r["planned"]:
        groups.setdefault((r["method"], r["sparsity"]), []).append(100 * r["acc"])
print()
print("| method | sparsity | finished seeds | test acc mean +- std |")
print("| --- | --- | --- | --- |")
for (m, s), v in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"| {m} | {s:.0%} | {len(v)} | {statistics.mean(v):.2f} +- {sd:.2f} |")
