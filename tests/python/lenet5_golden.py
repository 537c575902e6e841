"""LeNet-5 in PyTorch on formula-made weights and data, the figures the C# test LeNet5TorchTests checks.

The C# side builds the same model from the same formulas (no data set, no random generator): weight layer k's value i
(row-major out x fan_in, a convolution's fan_in in (c, y, x) order as weight.view(out, -1)) is
sqrt(3 / fan_in) * hash(i, k + 1), bias j is 0.05 cos(1.7 j + k), step s's batch of 8 holds samples n = 8 s .. 8 s + 7
with pixel p = 1.5 hash(784 n + p, 7) and label 3 n mod 10. Run as a script to print the figures:
  ONE   loss, sample 0's logits, then per weight layer: sum of the weight gradient, sum of its squares, sum of the bias
        gradient (one forward + backward on batch 0)
  TRAIN the loss of each of 30 SGD steps (lr 0.01, momentum 0.9, weight decay 5e-4, batches 0..29).
test_lenet5_golden.py checks them against the table the C# test holds."""
import math
import torch
import torch.nn.functional as F

BATCH = 8
SHAPES = [(20, 1, 5, 5), (50, 20, 5, 5), (500, 800), (10, 500)]


def hash_uniform(i, seed):
    """A value in [-1, 1) per index (the shader hash fract(sin(x) * 43758.5453)), in float64 as the C# side computes it."""
    v = torch.sin(i * 12.9898 + seed * 78.233) * 43758.5453
    return (v - torch.floor(v)) * 2 - 1


def weights():
    ws, bs = [], []
    for k, shape in enumerate(SHAPES):
        out, fan_in = shape[0], math.prod(shape[1:])
        i = torch.arange(out * fan_in, dtype=torch.float64)
        ws.append((math.sqrt(3.0 / fan_in) * hash_uniform(i, k + 1)).float().reshape(shape).requires_grad_())
        bs.append((0.05 * torch.cos(1.7 * torch.arange(out, dtype=torch.float64) + k)).float().requires_grad_())
    return ws, bs


def batch(s):
    n = torch.arange(s * BATCH, (s + 1) * BATCH, dtype=torch.float64)[:, None]
    p = torch.arange(784, dtype=torch.float64)[None, :]
    x = (1.5 * hash_uniform(n * 784 + p, 7)).float().reshape(BATCH, 1, 28, 28)
    return x, torch.tensor([(int(v) * 3) % 10 for v in n[:, 0]])


def forward(ws, bs, x):
    h = F.max_pool2d(F.relu(F.conv2d(x, ws[0], bs[0])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, ws[1], bs[1])), 2)
    return F.linear(F.relu(F.linear(h.flatten(1), ws[2], bs[2])), ws[3], bs[3])


def one_step():
    ws, bs = weights()
    x, y = batch(0)
    logits = forward(ws, bs, x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    got = [loss.item()] + logits[0].tolist()
    for w, b in zip(ws, bs):
        g = w.grad.double()
        got += [g.sum().item(), (g * g).sum().item(), b.grad.double().sum().item()]
    return got


def train_losses(steps=30, lr=0.01):
    ws, bs = weights()
    opt = torch.optim.SGD(ws + bs, lr=lr, momentum=0.9, weight_decay=5e-4)
    out = []
    for s in range(steps):
        x, y = batch(s)
        loss = F.cross_entropy(forward(ws, bs, x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    print("ONE", ", ".join(repr(v) for v in one_step()))
    print("TRAIN", ", ".join(repr(v) for v in train_losses()))
