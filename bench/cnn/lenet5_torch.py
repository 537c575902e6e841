# bench/cnn/lenet5_torch.py - PyTorch CPU baseline for `train --model lenet5`: the same Caffe LeNet-5
# (conv 20 5x5, relu, maxpool 2, conv 50 5x5, relu, maxpool 2, fc 500, relu, fc 10), Fashion-MNIST standardised as the
# engine does (mean 0.2860, std 0.3530), batch 128, SGD momentum 0.9, lr 0.05, weight decay 5e-4, a seeded shuffle;
# prints one JSON line per epoch with the training seconds (forward + backward + step, no evaluation) and the test
# accuracy. Usage: python3 bench/cnn/lenet5_torch.py [--epochs N] [--threads 2] [--data /usr/share/datasets/fashion-mnist]
import argparse, gzip, json, os, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)

def idx(name, images):
    with gzip.open(os.path.join(a.data, name)) as f:
        raw = f.read()
    if images:
        return (np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255 - 0.2860) / 0.3530
    return np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)

xtr, ytr = torch.from_numpy(idx("train-images-idx3-ubyte.gz", True)), torch.from_numpy(idx("train-labels-idx1-ubyte.gz", False))
xte, yte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", True)), torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz", False))

class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5); self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc3 = nn.Linear(800, 500); self.fc4 = nn.Linear(500, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc4(F.relu(self.fc3(x.flatten(1))))

m = LeNet5()
opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
for epoch in range(a.epochs):
    order = torch.randperm(len(ytr))
    m.train(); t0 = time.perf_counter()
    for s in range(0, len(ytr), a.batch):
        i = order[s:s + a.batch]
        loss = F.cross_entropy(m(xtr[i]), ytr[i])
        opt.zero_grad(); loss.backward(); opt.step()
    secs = time.perf_counter() - t0
    m.eval()
    with torch.no_grad():
        acc = sum((m(xte[s:s + 1000]).argmax(1) == yte[s:s + 1000]).sum().item() for s in range(0, len(yte), 1000)) / len(yte)
    print(json.dumps({"epoch": epoch + 1, "epoch_s": round(secs, 3), "test_acc": acc, "threads": a.threads, "torch": torch.__version__}), flush=True)
