"""Fashion-MNIST, MLP 784-300-100-10 with three sparsekernels.SparseLinear layers at 90 % sparsity (ERK), RigL (alpha 0.3,
every 100 steps, until 75 % of training), SGD (lr 0.05, momentum 0.9, weight decay 5e-4, cosine schedule), batch 128: the
defaults of the engine's `train --method rigl --sparsity 0.9 --distribution erk`, in a plain PyTorch loop.

Usage: python3 train_fashion_mnist.py [--epochs 10] [--seed 0] [--threads 2] [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sparsekernels  # noqa: E402

MEAN, STD = 0.2860, 0.3530  # the engine's FashionMnist standardisation


def load(folder, prefix):
    with gzip.open(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz")) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x803:
            raise ValueError(f"{folder}/{prefix}-images: bad IDX magic {magic:#x}")
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(n, rows * cols)
    with gzip.open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        magic, n2 = struct.unpack(">II", f.read(8))
        if magic != 0x801 or n2 != n:
            raise ValueError(f"{folder}/{prefix}-labels: bad header")
        y = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    return (x.float() / 255 - MEAN) / STD, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    g = torch.Generator().manual_seed(a.seed)
    layers = sparsekernels.sparse_mlp_layers([784, 300, 100, 10], 0.9, "erk", generator=g, threads=a.threads)
    model = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2])
    print("layers:", ", ".join(f"{l.out_features}x{l.in_features} {l.density:.1%}" for l in layers))
    steps_per_epoch = xtr.shape[0] // a.batch
    total = steps_per_epoch * a.epochs
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    rigl = sparsekernels.RigL(model, opt, total_steps=total, alpha=0.3, update_every=100, end_fraction=0.75, seed=a.seed)
    step, t0 = 0, time.time()
    acc = 0.0
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(xtr.shape[0], generator=g)
        loss_sum = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * a.batch:(b + 1) * a.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            if not rigl.step(step):  # RigL: a mask-update step makes no weight update
                opt.step()
            sched.step()
            loss_sum += loss.item()
            step += 1
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch + 1}: train loss {loss_sum / steps_per_epoch:.4f}, test accuracy {acc:.2%}, nnz "
              f"{'/'.join(str(l.nnz) for l in layers)}, mask updates {rigl.updates} ({time.time() - t0:.1f} s)", flush=True)
    print(f"final test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
