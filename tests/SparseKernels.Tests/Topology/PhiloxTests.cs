using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Topology;

namespace SparseKernels.Tests.Topology;

/// <summary>Philox4x32-10 against Random123's known-answer vectors (kat_vectors: philox4x32 10 ...).</summary>
[TestFixture]
public class PhiloxTests
{
    [TestCase(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [TestCase(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [TestCase(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void KnownAnswer(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint x0, uint x1, uint x2, uint x3)
    {
        var r = Philox.Philox4x32_10(c0, c1, c2, c3, k0, k1);
        Assert.That(new[] { r.X0, r.X1, r.X2, r.X3 }, Is.EqualTo(new[] { x0, x1, x2, x3 }));
    }

    [Test]
    public void GrowKeysAreNeverZeroAndDependOnSeed()
    {
        int same = 0;
        for (int p = 0; p < 1000; p++)
        {
            uint a = Philox.GrowKey(p, 1), b = Philox.GrowKey(p, 2);
            Assert.That(a, Is.Not.Zero);
            if (a == b) same++;
        }
        Assert.That(same, Is.LessThan(3), "two seeds gave the same keys");
    }
}
