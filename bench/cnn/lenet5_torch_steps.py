import time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(2)
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5); self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc3 = nn.Linear(800, 500); self.fc4 = nn.Linear(500, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc4(F.relu(self.fc3(x.flatten(1))))
m = LeNet5(); opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
x = torch.randn(128, 1, 28, 28); y = torch.randint(0, 10, (128,))
for i in range(20):
    if i == 4: t = time.perf_counter()
    loss = F.cross_entropy(m(x), y); opt.zero_grad(); loss.backward(); opt.step()
print("torch ms/step", (time.perf_counter() - t) / 16 * 1000)
