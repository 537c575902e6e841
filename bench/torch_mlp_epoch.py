#!/usr/bin/env python3
"""PyTorch CPU baseline for the `train` command: one epoch of a 784-300-100-10 MLP on Fashion-MNIST with the
same data normalisation, batch size, optimizer (SGD, momentum 0.9, weight decay 5e-4, lr 0.05 cosine per step)
and thread count as `train --threads N`. Prints one JSON line with the epoch time (training steps only, as our
`epoch_s`) and the test accuracy. Usage: /usr/bin/python3 bench/torch_mlp_epoch.py [--threads 2] [--epochs 1]
(Debian's python3-torch: apt-get install python3-torch)."""
import argparse, gzip, json, math, time
import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--lr", type=float, default=0.05)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--layers", default="784-300-100-10", help="layer sizes, e.g. 784-1024-1024-10")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

def idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)

def split(prefix):
    x = idx(f"{a.data}/{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
    y = idx(f"{a.data}/{prefix}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return torch.from_numpy((x / 255.0 - 0.2860) / 0.3530), torch.from_numpy(y)

xtr, ytr = split("train")
xte, yte = split("t10k")
sizes = [int(v) for v in a.layers.split("-")]
mods = []
for i in range(len(sizes) - 1):
    mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
    if i + 2 < len(sizes):
        mods.append(torch.nn.ReLU())
model = torch.nn.Sequential(*mods)
opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
steps = math.ceil(len(xtr) / a.batch_size)
total = steps * a.epochs
lossf = torch.nn.CrossEntropyLoss()
for epoch in range(a.epochs):
    perm = torch.randperm(len(xtr))
    t0 = time.perf_counter()
    loss_sum, correct = 0.0, 0
    for s in range(steps):
        i = perm[s * a.batch_size:(s + 1) * a.batch_size]
        x, y = xtr[i], ytr[i]
        for g in opt.param_groups:
            g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * (epoch * steps + s) / total))
        out = model(x)
        loss = lossf(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(i)
        correct += (out.argmax(1) == y).sum().item()
    dt = time.perf_counter() - t0
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(json.dumps({"framework": f"torch {torch.__version__}", "layers": a.layers, "threads": a.threads, "epoch": epoch + 1, "epoch_s": round(dt, 4),
                      "step_ms": round(1000 * dt / steps, 4), "train_loss": loss_sum / len(xtr), "train_acc": correct / len(xtr), "test_acc": acc}), flush=True)
