using System.Globalization;
using System.Text;
using System.Text.Json;
using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Sparsity;
using SparseKernels.Tensors;

namespace SparseKernels.Tests.CAbi;

/// <summary>
/// The expectation the Python package's RigL/SET is tested against (tests/python/test_rigl.py): fixed inputs and what the
/// engine's C# RigL update (<see cref="CpuBackend.RiglUpdate"/>: magnitude drop, chunked gradient growth, CSR rebuild
/// carrying the momentum) and SET growth (<see cref="CpuBackend.RandomGrow"/> with <see cref="LayerSurgery.GrowSeed"/>)
/// make of them, committed as tests/python/fixtures/rigl_engine.json. This test recomputes it and fails when the engine
/// no longer produces the committed file (regenerate with SK_WRITE_FIXTURES=1 after an intended change).
/// </summary>
public class RiglFixtureTests
{
    private const int Rows = 24, Cols = 40, Batch = 16, ChunkElements = 97;

    [Test]
    public void CommittedPythonFixtureIsWhatTheEngineComputes()
    {
        string json = Build();
        string path = Path.Combine(RepoRoot(), "tests", "python", "fixtures", "rigl_engine.json");
        if (Environment.GetEnvironmentVariable("SK_WRITE_FIXTURES") == "1") File.WriteAllText(path, json);
        Assert.That(File.Exists(path), Is.True, $"{path} is missing; write it with SK_WRITE_FIXTURES=1.");
        Assert.That(File.ReadAllText(path), Is.EqualTo(json),
            $"{path} differs from what the engine computes now; if the change is intended, rerun with SK_WRITE_FIXTURES=1.");
    }

    private static string Build()
    {
        var rng = new Random(20261202);
        var ro = new int[Rows + 1];
        var ci = new List<int>();
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Cols; c++)
                if (r % 7 != 3 && rng.NextDouble() < 0.25) ci.Add(c);   // rows 3, 10, 17 empty
            ro[r + 1] = ci.Count;
        }
        int nnz = ci.Count;
        float[] Floats(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var values = Floats(nnz);
        var momentum = Floats(nnz);
        var dy = Floats(Batch * Rows);
        var x = Floats(Batch * Cols);
        var w = new CsrMatrix(Rows, Cols, ro, ci.ToArray(), values);
        long tEnd = DropSchedule.EndStep(0.75, 1000);
        long count = DropSchedule.Count(0.3, 0, tEnd, nnz);
        var cpu = new CpuBackend(2);
        var keep = cpu.MagnitudePruneDrop([w], ["layer"], [count])[0];
        var grown = cpu.GradientGrow(w, keep, DenseTensor.FromArray(Batch, Rows, dy), DenseTensor.FromArray(Batch, Cols, x), count, "layer",
            ChunkElements);
        var (rebuilt, state) = cpu.RiglUpdate(w, [momentum], DenseTensor.FromArray(Batch, Rows, dy), DenseTensor.FromArray(Batch, Cols, x),
            count);
        ulong seed = LayerSurgery.GrowSeed(7, 1, 200);
        var setGrown = cpu.RandomGrow(w, keep, count, seed, "layer", ChunkElements);

        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = false }))
        {
            j.WriteStartObject();
            j.WriteString("about",
                "Written by tests/SparseKernels.Tests/CAbi/RiglFixtureTests.cs from the engine CpuBackend; do not edit.");
            j.WriteNumber("rows", Rows); j.WriteNumber("cols", Cols); j.WriteNumber("batch", Batch);
            j.WriteNumber("alpha", 0.3); j.WriteNumber("update_every", 100); j.WriteNumber("end_fraction", 0.75);
            j.WriteNumber("total_steps", 1000); j.WriteNumber("step", 0); j.WriteNumber("count", count);
            j.WriteNumber("chunk_elements", ChunkElements);
            Ints(j, "row_offsets", ro); Ints(j, "column_indices", ci); FloatArray(j, "values", values);
            FloatArray(j, "momentum", momentum); FloatArray(j, "dy", dy); FloatArray(j, "x", x);
            Ints(j, "keep", keep.Select(k => k ? 1 : 0));
            Ints(j, "rigl_grown", grown);
            Ints(j, "rigl_row_offsets", rebuilt.RowOffsets); Ints(j, "rigl_column_indices", rebuilt.ColumnIndices);
            FloatArray(j, "rigl_values", rebuilt.Values); FloatArray(j, "rigl_momentum", state[0]);
            j.WriteString("set_seed", seed.ToString(CultureInfo.InvariantCulture));
            j.WriteNumber("set_base_seed", 7); j.WriteNumber("set_layer", 1); j.WriteNumber("set_step", 200);
            Ints(j, "set_grown", setGrown);
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static void Ints(Utf8JsonWriter j, string name, IEnumerable<int> v)
    {
        j.WriteStartArray(name);
        foreach (int i in v) j.WriteNumberValue(i);
        j.WriteEndArray();
    }

    private static void FloatArray(Utf8JsonWriter j, string name, IEnumerable<float> v)
    {
        j.WriteStartArray(name);
        foreach (float f in v) j.WriteNumberValue(f);
        j.WriteEndArray();
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SparseKernels.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No SparseKernels.sln above {AppContext.BaseDirectory}.");
    }
}
