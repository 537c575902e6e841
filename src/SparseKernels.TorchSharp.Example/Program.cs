using System.Diagnostics;
using SparseKernels.Sparsity;
using SparseKernels.TorchSharp;
using SparseKernels.Training;
using TorchSharp;
using static TorchSharp.torch;

// Fashion-MNIST, MLP 784-300-100-10 with three SparseLinear layers at 90 % sparsity (ERK), RigL (alpha 0.3, every 100
// steps, until 75 % of training), SGD (lr 0.05, momentum 0.9, weight decay 5e-4, cosine schedule), batch 128: the
// defaults of the engine's `train --method rigl --sparsity 0.9`. Usage: [epochs=3] [seed=0] [threads=2]
int epochs = args.Length > 0 ? int.Parse(args[0]) : 3;
ulong seed = args.Length > 1 ? ulong.Parse(args[1]) : 0;
int threads = args.Length > 2 ? int.Parse(args[2]) : 2;
const int batch = 128;
torch.set_num_threads(threads);
manual_seed((long)seed);

var (train, test) = FashionMnist.Load();
var layers = SparseLinear.Create([784, 300, 100, 10], 0.9, DensityDistribution.ErdosRenyiKernel, seed: seed);
var model = nn.Sequential(("fc1", layers[0]), ("relu1", nn.ReLU()), ("fc2", layers[1]), ("relu2", nn.ReLU()), ("fc3", layers[2]));
Console.WriteLine($"layers: {string.Join(", ", layers.Select(l => $"{l.OutFeatures}x{l.InFeatures} {l.Density:P1}"))}");

long stepsPerEpoch = train.Count / batch, total = stepsPerEpoch * epochs;
var opt = optim.SGD(model.parameters(), 0.05, momentum: 0.9, weight_decay: 5e-4);
var sched = optim.lr_scheduler.CosineAnnealingLR(opt, total);
var rigl = new SparseConnectivity(GrowthRule.Gradient, alpha: 0.3, updateEvery: 100, endFraction: 0.75, seed: seed);
rigl.Attach(model);

var xAll = tensor(train.Images, [train.Count, 784]);
var yAll = tensor(train.Labels.Select(l => (long)l).ToArray());
var rng = new Random((int)seed);
long step = 0;
var sw = Stopwatch.StartNew();
for (int epoch = 0; epoch < epochs; epoch++)
{
    model.train();
    var order = Enumerable.Range(0, train.Count).OrderBy(_ => rng.Next()).Select(i => (long)i).ToArray();
    double lossSum = 0;
    for (long b = 0; b < stepsPerEpoch; b++, step++)
    {
        using var scope = NewDisposeScope();
        var idx = tensor(order.AsSpan((int)(b * batch), batch).ToArray());
        var x = xAll.index_select(0, idx);
        var y = yAll.index_select(0, idx);
        opt.zero_grad();
        var loss = nn.functional.cross_entropy(model.forward(x), y);
        loss.backward();
        if (!rigl.Step(model, step, total, opt)) opt.step();   // RigL: a mask-update step makes no weight update
        sched.step();
        lossSum += loss.item<float>();
    }
    double acc = Accuracy(model, test);
    Console.WriteLine($"epoch {epoch + 1}: train loss {lossSum / stepsPerEpoch:F4}, test accuracy {acc:P2}, nnz " +
        $"{string.Join("/", layers.Select(l => l.Nnz))} ({sw.Elapsed.TotalSeconds:F1} s)");
}

static double Accuracy(nn.Module<Tensor, Tensor> model, ImageDataset data)
{
    model.eval();
    using var _ = no_grad();
    using var scope = NewDisposeScope();
    var x = tensor(data.Images, [data.Count, 784]);
    var pred = model.forward(x).argmax(1);
    var y = tensor(data.Labels.Select(l => (long)l).ToArray());
    return pred.eq(y).sum().item<long>() / (double)data.Count;
}
