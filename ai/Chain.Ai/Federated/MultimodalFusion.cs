using System.Globalization;
using System.Text;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Chain.Ai.Torch;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Chain.Ai.Federated;

/// <summary>The fusion loss: BCE(attack) + <see cref="Lambda"/> · InfoNCE(network, vitals; <see cref="Tau"/>).</summary>
public sealed record FusionOptions
{
    /// <summary>Weight of the contrastive alignment term, &gt;= 0 (0 = plain fusion). Default 0.5.</summary>
    public double Lambda { get; init; } = 0.5;

    /// <summary>Temperature of the contrastive term, &gt; 0. Default 0.1.</summary>
    public double Tau { get; init; } = 0.1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for lambda &lt; 0 (or not finite) and tau &lt;= 0.</summary>
    public void Validate()
    {
        if (!(Lambda >= 0 && Lambda <= 1e4)) throw new ArgumentOutOfRangeException(nameof(Lambda), Lambda, "lambda must be in [0, 1e4]");
        if (!(Tau > 0 && Tau <= 1e4)) throw new ArgumentOutOfRangeException(nameof(Tau), Tau, "tau must be in (0, 1e4]");
    }
}

/// <summary>
/// The server of fused split learning: it holds the network-flow features of the events (keyed by row id) and a
/// network encoder to the same width as the cut; it receives the vital-sign cut activations from the clients (the vitals
/// modality stays split), and trains the fused head on [network embedding, vitals embedding] with
/// <c>BCE + lambda · InfoNCE</c>. The contrastive term is CLIP's symmetric InfoNCE between the L2-normalised
/// embeddings of the batch: row i's network and vitals embeddings are the positive pair, the other rows' the negatives,
/// similarities divided by tau. Its gradient flows into the network encoder here and, through the cut, into the
/// clients' vitals encoder.
/// </summary>
public sealed class FusionServer : ISplitServer, IDisposable
{
    private readonly Tensor _network;
    private readonly Dictionary<long, long> _position;
    private readonly torch.nn.Module<Tensor, Tensor> _networkEncoder;
    private readonly torch.nn.Module<Tensor, Tensor> _head;
    private readonly torch.optim.Optimizer _optimizer;
    private readonly Tensor _positiveWeight;
    private readonly FusionOptions _fusion;
    private List<float[]> _best;

    private FusionServer(Tensor network, Dictionary<long, long> position, torch.nn.Module<Tensor, Tensor> networkEncoder,
        torch.nn.Module<Tensor, Tensor> head, double positiveWeight, SplitLearningOptions options, FusionOptions fusion)
    {
        _network = network;
        _position = position;
        _networkEncoder = networkEncoder;
        _head = head;
        _fusion = fusion;
        CutWidth = options.CutWidth;
        _optimizer = torch.optim.AdamW(networkEncoder.parameters().Concat(head.parameters()), options.LearningRate,
            weight_decay: options.WeightDecay);
        _positiveWeight = torch.tensor(new[] { (float)positiveWeight });
        _best = Snapshot();
    }

    public int CutWidth { get; }

    /// <summary>
    /// A fusion server holding <paramref name="networkRows"/> (every event it may be asked about: training, validation
    /// and test), standardised with a scaler fitted on <paramref name="networkTrain"/> only. The network encoder is
    /// initialised with seed Seed + 2, the fused head with Seed + 1.
    /// </summary>
    public static FusionServer Create(ModalityRows networkRows, ModalityRows networkTrain, SplitLearningOptions options,
        FusionOptions fusion, double positiveWeight)
    {
        ArgumentNullException.ThrowIfNull(networkRows);
        ArgumentNullException.ThrowIfNull(networkTrain);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fusion);
        options.Validate();
        fusion.Validate();
        if (!(positiveWeight > 0 && positiveWeight <= 1e6))
            throw new ArgumentOutOfRangeException(nameof(positiveWeight), positiveWeight, "must be in (0, 1e6]");
        networkRows.Check("network rows", needBothClasses: false);
        networkTrain.Check("network training rows", needBothClasses: false);
        if (networkTrain.Width != networkRows.Width) throw new DatasetException("the network rows differ in width");
        var position = new Dictionary<long, long>();
        for (var i = 0; i < networkRows.Count; i++)
        {
            if (!position.TryAdd(networkRows.Ids[i], i)) throw new DatasetException($"row id {networkRows.Ids[i]} appears twice");
        }
        TorchRuntime.EnsureLoaded();
        var scaler = StandardScaler.Fit(networkTrain.Rows);
        torch.manual_seed(options.Seed + 2);
        var encoder = Nets.Encoder(networkRows.Width, options.EncoderHidden, options.CutWidth, options.CompressInputs);
        torch.manual_seed(options.Seed + 1);
        var head = Nets.Head(2 * options.CutWidth, options.HeadHidden);
        return new FusionServer(Nets.Matrix(scaler.Transform(networkRows.Rows)), position, encoder, head, positiveWeight, options, fusion);
    }

    public CutReply Train(CutBatch batch)
    {
        var (activations, labels) = Nets.Receive(batch, CutWidth, needLabels: true);
        using var scope = torch.NewDisposeScope();
        _networkEncoder.train();
        _head.train();
        var network = _networkEncoder.forward(_network.index_select(0, Positions(batch)));
        var vitals = torch.tensor(activations, [batch.Count, CutWidth]).requires_grad_(true);
        var logit = _head.forward(torch.cat([network, vitals], 1)).select(1, 0);
        var loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.tensor(labels!), pos_weights: _positiveWeight);
        if (_fusion.Lambda > 0 && batch.Count > 1) loss = loss + MultimodalFusion.InfoNce(network, vitals, _fusion.Tau) * _fusion.Lambda;
        _optimizer.zero_grad();
        loss.backward();
        _optimizer.step();
        return new CutReply(Nets.Values(vitals.grad!), loss.item<float>());
    }

    public float[] Logits(CutBatch batch)
    {
        var (activations, _) = Nets.Receive(batch, CutWidth, needLabels: false);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        _networkEncoder.eval();
        _head.eval();
        var network = _networkEncoder.forward(_network.index_select(0, Positions(batch)));
        var vitals = torch.tensor(activations, [batch.Count, CutWidth]);
        return Nets.Values(_head.forward(torch.cat([network, vitals], 1)).select(1, 0));
    }

    /// <summary>Per row of the batch: the cosine similarity of its network embedding and its (received) vitals embedding.</summary>
    public float[] PairCosines(CutBatch batch)
    {
        var (activations, _) = Nets.Receive(batch, CutWidth, needLabels: false);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        _networkEncoder.eval();
        var network = MultimodalFusion.Normalise(_networkEncoder.forward(_network.index_select(0, Positions(batch))));
        var vitals = MultimodalFusion.Normalise(torch.tensor(activations, [batch.Count, CutWidth]));
        return Nets.Values((network * vitals).sum(1));
    }

    public void KeepBest() => _best = Snapshot();

    public void RestoreBest()
    {
        var n = _networkEncoder.parameters().Count();
        Weights.Restore(_networkEncoder, [.. _best.Take(n)]);
        Weights.Restore(_head, [.. _best.Skip(n)]);
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _positiveWeight.Dispose();
        _network.Dispose();
        _networkEncoder.Dispose();
        _head.Dispose();
    }

    private List<float[]> Snapshot() => [.. Weights.Snapshot(_networkEncoder), .. Weights.Snapshot(_head)];

    private Tensor Positions(CutBatch batch)
    {
        var positions = new long[batch.Count];
        for (var i = 0; i < positions.Length; i++)
        {
            if (!_position.TryGetValue(batch.RowIds[i], out positions[i]))
                throw new ArgumentException($"row id {batch.RowIds[i]} is not one the server holds network features for", nameof(batch));
        }
        return torch.tensor(positions);
    }
}

/// <summary>The contrastive alignment term of fusion.</summary>
public static class MultimodalFusion
{
    /// <summary>
    /// CLIP-style symmetric InfoNCE: with a, b the row-normalised embeddings [N, d] and S = a bᵀ / tau, the mean of the
    /// cross-entropy of S's rows and of its columns against the diagonal (row i's partner is row i).
    /// </summary>
    public static Tensor InfoNce(Tensor network, Tensor vitals, double tau)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(vitals);
        if (!(tau > 0)) throw new ArgumentOutOfRangeException(nameof(tau), tau, "tau must be > 0");
        var similarity = Normalise(network).mm(Normalise(vitals).t()) / tau;
        var targets = torch.tensor(Enumerable.Range(0, (int)network.shape[0]).Select(i => (long)i).ToArray());
        return (torch.nn.functional.cross_entropy(similarity, targets) + torch.nn.functional.cross_entropy(similarity.t(), targets)) / 2;
    }

    /// <summary>Each row divided by its L2 norm (at least 1e-12).</summary>
    public static Tensor Normalise(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return x / (x * x).sum(1, keepdim: true).clamp_min(1e-24).sqrt();
    }
}

/// <summary>Options of <see cref="MultimodalComparison.Run"/>.</summary>
public sealed record MultimodalOptions
{
    /// <summary>Split learning (clients, widths, epochs, seed) for every model of the comparison.</summary>
    public SplitLearningOptions Learning { get; init; } = new();

    /// <summary>Lambda and tau of the contrastive fused model (the plain fused model uses lambda 0).</summary>
    public FusionOptions Fusion { get; init; } = new();

    public void Validate()
    {
        if (Learning is null || Fusion is null) throw new ArgumentException("Learning and Fusion options are required");
        Learning.Validate();
        Fusion.Validate();
    }
}

/// <summary>One model of the comparison, scored on the test rows at the threshold chosen on validation.</summary>
/// <param name="Model">Short name.</param>
/// <param name="Where">Where each part runs.</param>
/// <param name="Test">Test metrics at <see cref="BinaryReport.Threshold"/> (best F1 on validation).</param>
/// <param name="ValidationAuroc">At the kept epoch.</param>
/// <param name="EpochsRun">Epochs run (early stopping).</param>
/// <param name="BestEpoch">The epoch kept.</param>
/// <param name="CutBytesPerEpoch">Training bytes across the cut in the first epoch (0 for a central model).</param>
/// <param name="HandoffBytesPerEpoch">Encoder bytes handed between clients in the second epoch (or the first if one ran).</param>
/// <param name="TestPairCosine">Mean cosine of each test row's network and vitals embeddings (fused models only).</param>
public sealed record ComparisonRow(string Model, string Where, BinaryReport Test, double ValidationAuroc, int EpochsRun, int BestEpoch,
    long CutBytesPerEpoch, long HandoffBytesPerEpoch, double? TestPairCosine);

/// <summary>The result of <see cref="MultimodalComparison.Run"/>.</summary>
public sealed record ComparisonResult(string Split, int TrainRows, int TestRows, int TestAttacks, int NetworkFeatures, int VitalFeatures,
    MultimodalOptions Options, IReadOnlyList<ComparisonRow> Rows)
{
    /// <summary>The comparison as a Markdown table with its settings.</summary>
    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var o = Options.Learning;
        var text = new StringBuilder();
        text.AppendLine(inv, $"Split: {Split}; {TrainRows} training rows, {TestRows} test rows ({TestAttacks} attacks).");
        text.AppendLine(inv, $"Features: {NetworkFeatures} network-flow, {VitalFeatures} vital-sign. Clients {o.Clients} (sequential " +
                             $"split learning, label sharing), cut width {o.CutWidth}, encoder hidden {o.EncoderHidden}, head hidden " +
                             $"{o.HeadHidden}, batch {o.BatchSize}, lr {F(o.LearningRate)}, up to {o.Epochs} epochs (patience " +
                             $"{o.Patience}), seed {o.Seed}; lambda {F(Options.Fusion.Lambda)}, tau {F(Options.Fusion.Tau)}.");
        text.AppendLine("Threshold: best F1 on the validation rows; metrics on the test rows.");
        text.AppendLine();
        text.AppendLine("| model | where | accuracy | precision | recall | F1 | AUROC | AUPRC | val AUROC | epochs (kept) | pair cosine | cut bytes/epoch | handoff bytes/epoch |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in Rows)
        {
            var t = r.Test;
            text.AppendLine(inv, $"| {r.Model} | {r.Where} | {F(t.Accuracy)} | {F(t.Precision)} | {F(t.Recall)} | {F(t.F1)} | {F(t.Auroc)} | " +
                                 $"{F(t.Auprc)} | {F(r.ValidationAuroc)} | {r.EpochsRun} ({r.BestEpoch}) | " +
                                 $"{(r.TestPairCosine is { } c ? F(c) : "-")} | {Bytes(r.CutBytesPerEpoch)} | {Bytes(r.HandoffBytesPerEpoch)} |");
        }
        return text.ToString();
    }

    private static string F(double v) => double.IsNaN(v) ? "-" : v.ToString(Math.Abs(v) >= 0.001 || v == 0 ? "F3" : "G3", CultureInfo.InvariantCulture);

    private static string Bytes(long b) => b == 0 ? "0" : b.ToString("N0", CultureInfo.InvariantCulture);
}

/// <summary>
/// Network-only vs vitals-only vs fused detection, on the shared chronological split (<see cref="DetectionSplit"/>):
/// <list type="number">
/// <item>network-only: the encoder and head on the network-flow features in one process (the network side needs no
/// split: <see cref="SplitLearning.TrainCentral"/>);</item>
/// <item>vitals-only: split learning, the vitals encoder at the clients, the head at the server
/// (<see cref="SplitHeadServer"/>);</item>
/// <item>fused, lambda 0: the vitals encoder still split, the server (<see cref="FusionServer"/>) holding the network
/// features, its encoder and the fused head;</item>
/// <item>fused with the contrastive term (lambda from the options).</item>
/// </list>
/// Each model keeps its best-validation-AUROC epoch; its threshold is the best-F1 threshold on the validation rows;
/// the metrics are on the test rows. Every model is seeded from the options' seed, so the run is reproducible.
/// </summary>
public static class MultimodalComparison
{
    /// <exception cref="DatasetException">The data lacks network or vital-sign features, or cannot be split.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (lambda &lt; 0, tau &lt;= 0, ...).</exception>
    public static ComparisonResult Run(TabularDataset data, MultimodalOptions options, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var vitalCount = data.IsVital.Count(v => v);
        if (vitalCount == 0) throw new DatasetException("the dataset has no vital-sign features (an empty modality): name them");
        if (vitalCount == data.FeatureNames.Count) throw new DatasetException("the dataset has no network features (an empty modality)");
        using var training = new SplitLearning.SingleThread();
        var chosen = DetectionSplit.Choose(data, options.Learning.Seed);
        var s = chosen.Split;
        var all = Enumerable.Range(0, data.Count).ToArray();
        var net = (Train: ModalityRows.Of(data, s.Train, FeatureGroup.Network), Val: ModalityRows.Of(data, s.Validation, FeatureGroup.Network),
            Test: ModalityRows.Of(data, s.Test, FeatureGroup.Network));
        var vit = (Train: ModalityRows.Of(data, s.Train, FeatureGroup.Vitals), Val: ModalityRows.Of(data, s.Validation, FeatureGroup.Vitals),
            Test: ModalityRows.Of(data, s.Test, FeatureGroup.Vitals));
        var o = options.Learning;
        var positiveWeight = o.PositiveWeightFor(net.Train.Labels);
        var rows = new List<ComparisonRow>();
        IProgress<SplitEpochReport> Epochs(string name) => new Reporter<SplitEpochReport>(e => progress?.Report(string.Create(
            CultureInfo.InvariantCulture, $"{name} epoch {e.Epoch,3}: train loss {e.TrainLoss:F4}, validation AUROC {e.ValidationAuroc:F4}")));

        using (var model = SplitLearning.TrainCentral(net.Train, net.Val, o, Epochs("network-only")))
        {
            rows.Add(Row("network-only", "central (network side)", model.AttackProbability(net.Val), model.AttackProbability(net.Test),
                net.Val.Labels, net.Test.Labels, model.History, model.BestEpoch, null));
        }

        using (var server = SplitHeadServer.Create(o, positiveWeight))
        using (var model = SplitLearning.Train(vit.Train, vit.Val, server, o, Epochs("vitals-only (split)")))
        {
            rows.Add(Row("vitals-only", $"split: encoder at {o.Clients} clients, head at server", model.AttackProbability(vit.Val),
                model.AttackProbability(vit.Test), vit.Val.Labels, vit.Test.Labels, model.History, model.BestEpoch, null));
        }

        var networkAll = ModalityRows.Of(data, all, FeatureGroup.Network);
        foreach (var lambda in new[] { 0.0, options.Fusion.Lambda })
        {
            var fusion = options.Fusion with { Lambda = lambda };
            var name = lambda == 0 ? "fused, lambda 0" : $"fused + contrastive, lambda {lambda.ToString("G4", CultureInfo.InvariantCulture)}";
            using var server = FusionServer.Create(networkAll, net.Train, o, fusion, positiveWeight);
            using var model = SplitLearning.Train(vit.Train, vit.Val, server, o, Epochs(name));
            var cosines = SplitLearning.Encode(model.EncoderModule, model.Scaler, vit.Test, o.CutWidth).SelectMany(b => server.PairCosines(b));
            rows.Add(Row(name, "split: vitals encoder at clients; network encoder + fused head at server", model.AttackProbability(vit.Val),
                model.AttackProbability(vit.Test), vit.Val.Labels, vit.Test.Labels, model.History, model.BestEpoch, cosines.Average()));
        }

        return new ComparisonResult(chosen.Description, s.Train.Count, s.Test.Count, s.Test.Count(i => data.Labels[i] == 1),
            data.FeatureNames.Count - vitalCount, vitalCount, options, rows);
    }

    /// <summary>
    /// <see cref="Run"/> once per seed (the options' seed, then seed + 1, ...): the spread over seeds says how much of a
    /// difference between models is initialisation and batch order.
    /// </summary>
    public static SeededComparison RunSeeds(TabularDataset data, MultimodalOptions options, int seeds, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(seeds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seeds, 100);
        options.Validate();
        using var training = new SplitLearning.SingleThread();
        var runs = new List<ComparisonResult>();
        for (var k = 0; k < seeds; k++)
        {
            var seed = options.Learning.Seed + k;
            progress?.Report($"seed {seed.ToString(CultureInfo.InvariantCulture)}");
            runs.Add(Run(data, options with { Learning = options.Learning with { Seed = seed } }, progress));
        }
        return new SeededComparison(runs);
    }

    private static ComparisonRow Row(string name, string where, float[] validation, float[] test, IReadOnlyList<int> validationLabels,
        IReadOnlyList<int> testLabels, IReadOnlyList<SplitEpochReport> history, int bestEpoch, double? pairCosine)
    {
        var threshold = validationLabels.Contains(1) ? Metrics.BestF1Threshold(validationLabels, validation).Threshold : 0.5f;
        var report = Metrics.Binary(testLabels, test, threshold);
        var kept = history.FirstOrDefault(h => h.Epoch == bestEpoch) ?? history[^1];
        var handoff = history.Count > 1 ? history[1].Traffic.Handoff : history[0].Traffic.Handoff;
        return new ComparisonRow(name, where, report, kept.ValidationAuroc, history.Count, bestEpoch, history[0].Traffic.Cut, handoff,
            pairCosine);
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread, in order.</summary>
    private sealed class Reporter<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>The comparison over several seeds: mean and standard deviation per model, then each seed's table.</summary>
public sealed record SeededComparison(IReadOnlyList<ComparisonResult> Runs)
{
    /// <summary>Mean ± sample standard deviation over the seeds of a test metric of the model in row <paramref name="row"/>.</summary>
    public (double Mean, double Sd) Summary(int row, Func<ComparisonRow, double> metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        var values = Runs.Select(r => metric(r.Rows[row])).ToArray();
        var mean = values.Average();
        var sd = values.Length > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1)) : 0;
        return (mean, sd);
    }

    public string ToMarkdown()
    {
        if (Runs.Count == 1) return Runs[0].ToMarkdown();
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        var seeds = string.Join(", ", Runs.Select(r => r.Options.Learning.Seed.ToString(inv)));
        text.AppendLine(inv, $"Test metrics over {Runs.Count} seeds ({seeds}): mean ± standard deviation; each seed's table follows.");
        text.AppendLine();
        text.AppendLine("| model | accuracy | F1 | AUROC | AUPRC | pair cosine |");
        text.AppendLine("|---|---|---|---|---|---|");
        for (var i = 0; i < Runs[0].Rows.Count; i++)
        {
            string M(Func<ComparisonRow, double> metric)
            {
                var (mean, sd) = Summary(i, metric);
                return double.IsNaN(mean) ? "-" : string.Create(inv, $"{mean:F3} ± {sd:F3}");
            }
            text.AppendLine(inv, $"| {Runs[0].Rows[i].Model} | {M(r => r.Test.Accuracy)} | {M(r => r.Test.F1)} | {M(r => r.Test.Auroc)} | " +
                                 $"{M(r => r.Test.Auprc)} | {M(r => r.TestPairCosine ?? double.NaN)} |");
        }
        foreach (var run in Runs)
        {
            text.AppendLine();
            text.AppendLine(inv, $"### Seed {run.Options.Learning.Seed}");
            text.AppendLine();
            text.Append(run.ToMarkdown());
        }
        return text.ToString();
    }
}
