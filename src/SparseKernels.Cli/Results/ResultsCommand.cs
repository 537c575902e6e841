using System.CommandLine;
using System.Globalization;
using SparseKernels.Autograd;
using SparseKernels.Sparsity;
using SparseKernels.Training;
using Spectre.Console;

namespace SparseKernels.Cli.Results;

/// <summary>
/// <c>train results</c>: runs the sparse-training grid (models x methods x sparsities x distributions x
/// seeds) on the CPU and writes docs/results.md (mean +- std test accuracy, training time, memory) with a plot per
/// model (docs/results-&lt;model&gt;.png). Each run trains in a child process of this program (its own peak RSS). Every finished run is appended to a JSON-lines file first, so an interrupted grid keeps its
/// runs, a rerun skips them, and --render-only redraws the table from the file.
/// </summary>
internal static class ResultsCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Models separated by ';': MLP sizes or a --model spec / preset, e.g. 784-300-100-10;784-1024-1024-10;lenet5.", DefaultValueFactory = _ => "784-300-100-10;784-1024-1024-10" };
        var methods = new Option<string>("--methods")
        {
            Description = "Methods separated by ','.",
            DefaultValueFactory = _ => string.Join(',', SparsityOptions.Methods),
        };
        var sparsities = new Option<string>("--sparsities")
        { Description = "Sparsities separated by ','.", DefaultValueFactory = _ => "0.8,0.9,0.95,0.98" };
        var distributions = new Option<string>("--distributions")
        { Description = "Layer distributions separated by ','.", DefaultValueFactory = _ => "erk,uniform" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per configuration (1..N).", DefaultValueFactory = _ => 3 };
        var epochs = new Option<int>("--epochs")
        { Description = "Epochs per run (per level for IMP / KD tickets).", DefaultValueFactory = _ => 20 };
        var impLevels = new Option<int>("--imp-levels") { Description = "IMP / KD ticket levels.", DefaultValueFactory = _ => 5 };
        var trainLimit = new Option<int>("--train-limit") { Description = "Use only the first N training samples (0 = all).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "The Markdown file; the plot and the runs file go beside it.", DefaultValueFactory = _ => "docs/results.md" };
        var data = new Option<string>("--data") { Description = "Folder of the Fashion-MNIST gzip IDX files.", DefaultValueFactory = _ => FashionMnist.DefaultFolder };
        var renderOnly = new Option<bool>("--render-only") { Description = "Only redraw the table and plot from the runs file." };
        var note = new Option<string?>("--note") { Description = "A paragraph placed under the title (what the grid was, what is missing); default: the file <output>.notes.md when it exists." };
        var import = new Option<string[]>("--import")
        {
            Description = "Add finished `train` runs to the runs file instead of running the grid: KEY=FOLDER, KEY as "
                + "model|method|distribution|sparsity|seed|epochs (repeatable).",
        };
        // Internal: the parent runs every configuration in a child process (its own peak RSS, no state shared between runs).
        var one = new Option<string?>("--one") { Description = "Run one configuration 'model|method|distribution|sparsity|seed|epochs' and print its result (used by the grid).", Hidden = true };
        var command = new Command("results", "Run the sparse-training results grid and write docs/results.md with a plot; options shrink the grid.");
        foreach (var o in new Option[] { models, methods, sparsities, distributions, seeds, epochs, impLevels, trainLimit, threads, output, data, renderOnly, note, import, one }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                int t = parse.GetValue(threads);
                if (t < 0) throw new ArgumentException($"--threads is {t}; it must be >= 0.");
                var cpu = t > 0 ? new CpuTensorBackend(new Cpu.CpuBackend(t)) : CpuTensorBackend.Instance;
                if (parse.GetValue(one) is { } single)
                    return SingleRun.Execute(single, parse.GetValue(data)!, parse.GetValue(impLevels), parse.GetValue(trainLimit), cpu);
                string md = parse.GetValue(output)!;
                string runsFile = RunsFile.For(md);
                var grid = new Grid(
                    parse.GetValue(models)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    parse.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => m.ToLowerInvariant()).ToArray(),
                    parse.GetValue(sparsities)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => double.Parse(s, Inv)).ToArray(),
                    parse.GetValue(distributions)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToArray(),
                    parse.GetValue(seeds), parse.GetValue(epochs), parse.GetValue(impLevels), parse.GetValue(trainLimit));
                foreach (var m in grid.Methods)
                    if (!SparsityOptions.Methods.Contains(m)) throw new ArgumentException($"--methods: unknown method '{m}'; use {string.Join(", ", SparsityOptions.Methods)}.");
                foreach (var d in grid.Distributions) LayerDensities.Parse(d);
                if (parse.GetValue(import) is { Length: > 0 } imports)
                {
                    var have = RunsFile.Read(runsFile).Select(RunsFile.Key).ToHashSet();
                    var (train, test) = FashionMnist.Load(parse.GetValue(data)!);   // once, for every import's model
                    foreach (string spec in imports)
                    {
                        var r = RunImport.Read(spec, train, test, parse.GetValue(impLevels), cpu);
                        if (!have.Add(RunsFile.Key(r)))
                            throw new ArgumentException($"--import '{spec}': the runs file already holds {RunsFile.Key(r)}.");
                        RunsFile.Append(runsFile, r);
                        AnsiConsole.MarkupLine(Markup.Escape(
                            $"imported {RunsFile.Key(r)}: test acc {r.TestAccuracy:P2}, nnz {r.Nonzeros:N0}"));
                    }
                }
                else if (!parse.GetValue(renderOnly)) GridRunner.Run(grid, parse.GetValue(data)!, runsFile, md, parse.GetValue(note), t);
                ResultsMarkdown.Render(RunsFile.Read(runsFile), md, parse.GetValue(note), grid, parse.GetValue(renderOnly));
                AnsiConsole.MarkupLine($"wrote {Markup.Escape(md)} and its plots");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or IOException or FormatException or ChildRunException)
            {
                AnsiConsole.MarkupLine($"[red]train results: {Markup.Escape(e.Message)}[/]");
                return 2;
            }
        });
        return command;
    }
}
