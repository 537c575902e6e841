using NUnit.Framework;

namespace SparseKernels.Tests.Support;

/// <summary>Fresh random generators for tests whose seed is written to the test output, so a failure can be replayed.</summary>
public static class TestRng
{
    /// <summary>The environment variable that fixes the seed: set it to a failing run's printed seed to replay that run.</summary>
    public const string SeedVariable = "SPARSEKERNELS_TEST_SEED";

    /// <summary>A generator seeded from <c>SPARSEKERNELS_TEST_SEED</c> when it is set, else from a fresh seed; the seed goes to the test output.</summary>
    public static Random Fresh()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out int fixedSeed) ? fixedSeed : Random.Shared.Next();
        TestContext.Out.WriteLine($"seed: {seed} ({SeedVariable}={seed} replays it)");
        return new Random(seed);
    }
}
