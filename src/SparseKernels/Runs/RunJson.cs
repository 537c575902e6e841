using System.Text.Json.Serialization;
using SparseKernels.Sparsity;

namespace SparseKernels.Runs;

/// <summary>
/// Source-generated JSON metadata for what <see cref="TrainingRun"/> writes (metrics lines, IMP levels): no reflection, so
/// the engine stays trimming/NativeAOT-clean (libsparsekernels.so, src/SparseKernels.CAbi). The values of the metrics
/// dictionary are serialised by their runtime types, each listed here.
/// </summary>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]   // NaN / Infinity in metrics
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(IReadOnlyList<ImpLevel>))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(float))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(long[]))]
internal sealed partial class RunJson : JsonSerializerContext;
