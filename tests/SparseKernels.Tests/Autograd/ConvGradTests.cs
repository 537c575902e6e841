using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Tests.Autograd;

/// <summary>Finite-difference checks of the convolution ops: im2col + (sparse) linear, the chunked convolution (sparse and dense), max
/// pooling, global average pooling and the layout permutations.</summary>
public class ConvGradTests
{
    private static readonly Conv2dGeometry G = new(2, 6, 5, 3, 3, 3, 2, 1);
    private const int Batch = 3;

    [TestCase(false, 0)]
    [TestCase(true, 0)]
    [TestCase(false, 1)]
    [TestCase(true, 2)]
    public void ConvolutionGradients(bool sparse, int chunk)
    {
        var rng = new Random(21 + chunk);
        var x = AutogradSupport.Dense(rng, G.InChannels, Batch * G.Height * G.Width);
        var w = AutogradSupport.Dense(rng, G.OutChannels, G.ColumnRows);
        var pattern = Mlp.RandomPattern(G.OutChannels, G.ColumnRows, 0.5, new TrainRng(3));
        Array.Copy(AutogradSupport.Values(rng, pattern.Nnz), pattern.Values, pattern.Nnz);
        AutogradSupport.GradCheck((b, t) =>
        {
            var xv = t.Input(x);
            Var y;
            Var wv;
            if (sparse)
            {
                var sw = new SparseWeight(pattern, b);
                wv = sw.Values;
                y = chunk == 0 ? Fn.SparseLinear(t, Fn.Im2Col(t, xv, G), sw) : Fn.Conv2dChunked(t, xv, G, sw, null, chunk);
            }
            else
            {
                wv = Var.Parameter(w);
                y = chunk == 0 ? Fn.Linear(t, Fn.Im2Col(t, xv, G), wv) : Fn.Conv2dChunked(t, xv, G, null, wv, chunk);
            }
            return (y, [xv, wv]);
        }, rng);
    }

    [Test]
    public void PoolingAndLayoutGradients()
    {
        var rng = new Random(8);
        int c = 2, h = 6, w = 4;
        var x = AutogradSupport.Dense(rng, c, Batch * h * w);
        var feats = AutogradSupport.Dense(rng, c * h * w, Batch);
        AutogradSupport.GradCheck((b, t) =>
        {
            var xv = t.Input(x);
            var fv = t.Input(feats);
            var pooled = Fn.MaxPool2d(t, Fn.AddScaled(t, 1f, xv, 1f, Fn.FeaturesToChannels(t, fv, c, h * w)), c, h, w, 2, 2);
            var flat = Fn.ChannelsToFeatures(t, pooled, c, 3 * 2);
            var gap = Fn.GlobalAvgPool(t, xv, c, h * w);
            return (Fn.AddScaled(t, 1f,
                Fn.Linear(t, flat, Var.Parameter(DenseTensor.FromArray(c, c * 6, AutogradSupport.Values(new Random(1), c * c * 6)))),
                    0.5f, gap), [xv, fv]);
        }, rng, eps: 1e-3f);
    }
}
