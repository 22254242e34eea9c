using System.Runtime.CompilerServices;
using Chain.Ai.Data;
using Chain.Ai.Torch;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Chain.Ai.Detection;

/// <summary>
/// The IoMT intrusion detector: an MLP over one feature group with two heads. Its output is logits [N, 1 + F]: column 0
/// is the attack logit (binary cross-entropy, class-weighted), columns 1..F the attack-family logits over the families
/// seen in training, benign included (cross-entropy). The binary head is the detector; the family head is an auxiliary
/// task that shapes the hidden layers and names what was seen.
/// <para>
/// Inputs are raw feature rows (the dataset's values for <see cref="FeatureNames"/>, in that order); the detector
/// standardises them with <see cref="Scaler"/> (fitted on training rows only) before <see cref="Network"/>. Not safe for
/// concurrent training; the scoring methods may be called from several threads (they serialise on one lock).
/// </para>
/// </summary>
public sealed class Detector : IDisposable
{
    private readonly Lock _gate = new();
    private readonly float[] _mean;
    private readonly float[] _scale;
    private readonly float[] _scratch;
    private readonly Tensor _single;

    internal Detector(torch.nn.Module<Tensor, Tensor> network, StandardScaler scaler, IReadOnlyList<string> featureNames,
        FeatureGroup featureGroup, IReadOnlyList<string> families, float threshold, Architecture architecture,
        IReadOnlyList<EpochReport> history)
    {
        Network = network;
        Scaler = scaler;
        FeatureNames = featureNames;
        FeatureGroup = featureGroup;
        Families = families;
        Threshold = threshold;
        Shape = architecture;
        History = history;
        _mean = [.. scaler.Mean];
        _scale = [.. scaler.Scale];
        _scratch = new float[featureNames.Count];
        _single = torch.zeros(1, featureNames.Count);
        Network.eval();
    }

    /// <summary>The network: scaled features [N, FeatureNames.Count] in, logits [N, 1 + Families.Count] out.</summary>
    public torch.nn.Module<Tensor, Tensor> Network { get; }

    /// <summary>The standardisation fitted on the training rows; <see cref="Network"/> takes its output.</summary>
    public StandardScaler Scaler { get; }

    /// <summary>The input features, in input order.</summary>
    public IReadOnlyList<string> FeatureNames { get; }

    public FeatureGroup FeatureGroup { get; }

    /// <summary>The families of the family head (column 1 + i is family i), benign first, as seen in training.</summary>
    public IReadOnlyList<string> Families { get; }

    /// <summary>The decision threshold on the attack probability (probability &gt;= threshold = attack), chosen on validation.</summary>
    public float Threshold { get; }

    /// <summary>Per epoch of the training run (empty for a loaded model).</summary>
    public IReadOnlyList<EpochReport> History { get; }

    internal Architecture Shape { get; }

    /// <summary>
    /// Trains on <paramref name="train"/> and selects on <paramref name="validation"/>: the scaler is fitted on the
    /// training rows only; each epoch is scored on the validation rows, the best epoch's weights are kept (early stopping
    /// with <see cref="DetectorOptions.Patience"/>), and the threshold is the validation's best-F1 threshold (0.5 when the
    /// validation rows hold no attack). Seeded: the same options and data on the same machine give the same model.
    /// </summary>
    /// <exception cref="DatasetException">The datasets differ in features, or the training rows lack a class.</exception>
    public static Detector Train(TabularDataset train, TabularDataset validation, DetectorOptions options,
        IProgress<EpochReport>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        TorchRuntime.EnsureLoaded();
        // One intra-op thread while training: batches of this MLP are too small to gain from more, a busy machine makes
        // extra threads spin (5x slower measured on 2 shared cores), and one thread makes the result independent of the
        // machine's core count. Restored afterwards (the setting is process-wide).
        var threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            return TrainSingleThreaded(train, validation, options, progress);
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }

    private static Detector TrainSingleThreaded(TabularDataset train, TabularDataset validation, DetectorOptions options,
        IProgress<EpochReport>? progress)
    {
        var tr = train.Select(options.Features);
        var va = validation.Select(options.Features);
        if (!tr.FeatureNames.SequenceEqual(va.FeatureNames, StringComparer.Ordinal))
            throw new DatasetException("the training and validation rows have different features");
        var positives = tr.Labels.Count(l => l == 1);
        if (positives == 0 || positives == tr.Count)
            throw new DatasetException($"the {tr.Count} training rows need both benign and attack rows (attacks: {positives})");
        if (va.Count == 0) throw new DatasetException("no validation rows");

        var families = FamiliesOf(tr);
        var familyIndex = families.Select((f, i) => (f, i)).ToDictionary(p => p.f, p => (long)p.i, StringComparer.Ordinal);
        var scaler = StandardScaler.Fit(tr.Rows);
        var shape = new Architecture(tr.FeatureNames.Count, [.. options.Hidden], options.Dropout, options.CompressInputs, families.Count);
        var positiveWeight = options.PositiveWeight ?? (double)(tr.Count - positives) / positives;

        torch.manual_seed(options.Seed);
        var network = shape.Build();
        using var x = Matrix(scaler.Transform(tr.Rows));
        using var y = torch.tensor(tr.Labels.Select(l => (float)l).ToArray());
        using var f = torch.tensor(tr.Families.Select(n => familyIndex[n]).ToArray());
        using var xVal = Matrix(scaler.Transform(va.Rows));
        using var posWeight = torch.tensor(new[] { (float)positiveWeight });
        using var optimizer = torch.optim.AdamW(network.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        var shuffle = new Random(options.Seed);
        var order = Enumerable.Range(0, tr.Count).Select(i => (long)i).ToArray();
        var valLabels = va.Labels;
        var valHasBoth = valLabels.Contains(0) && valLabels.Contains(1);

        var history = new List<EpochReport>();
        var best = (Score: double.NegativeInfinity, Epoch: 0, Weights: Snapshot(network));
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            network.train();
            shuffle.Shuffle(order);
            double lossSum = 0;
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                using var scope = torch.NewDisposeScope();
                var count = Math.Min(options.BatchSize, order.Length - start);
                var index = torch.tensor(order.AsSpan(start, count).ToArray());
                var logits = network.forward(x.index_select(0, index));
                var loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits.select(1, 0), y.index_select(0, index), pos_weights: posWeight);
                if (options.FamilyLossWeight > 0 && families.Count > 1)
                {
                    var familyLoss = torch.nn.functional.cross_entropy(logits.narrow(1, 1, families.Count), f.index_select(0, index));
                    loss = loss + familyLoss * options.FamilyLossWeight;
                }
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>() * count;
            }

            var (valProbabilities, valLoss) = ScoreScaled(network, xVal, valLabels);
            var auroc = valHasBoth ? Metrics.Auroc(valLabels, valProbabilities) : double.NaN;
            var f1 = valLabels.Contains(1) ? Metrics.BestF1Threshold(valLabels, valProbabilities).F1 : double.NaN;
            var report = new EpochReport(epoch, lossSum / order.Length, valLoss, auroc, f1);
            history.Add(report);
            progress?.Report(report);

            var score = !valHasBoth ? -valLoss : options.Monitor == StopMetric.F1 ? f1 : auroc;
            if (score > best.Score)
            {
                best = (score, epoch, Snapshot(network));
            }
            else if (options.Patience > 0 && epoch - best.Epoch >= options.Patience)
            {
                break;
            }
        }

        Restore(network, best.Weights);
        network.eval();
        var (probabilities, _) = ScoreScaled(network, xVal, valLabels);
        var threshold = valLabels.Contains(1) ? Metrics.BestF1Threshold(valLabels, probabilities).Threshold : 0.5f;
        return new Detector(network, scaler, [.. tr.FeatureNames], options.Features, families, threshold, shape, history);
    }

    /// <summary>The attack probability of each raw row (in <see cref="FeatureNames"/> order).</summary>
    public float[] AttackProbability(IReadOnlyList<float[]> rawRows)
    {
        var logits = Logits(rawRows);
        var width = 1 + Families.Count;
        var result = new float[rawRows.Count];
        for (var i = 0; i < result.Length; i++) result[i] = Sigmoid(logits[i * width]);
        return result;
    }

    /// <summary>
    /// The attack probability of one event, for the online path: no managed allocation besides TorchSharp's tensor
    /// wrappers (the input tensor is reused), eval mode, no autograd.
    /// </summary>
    public float AttackProbability(ReadOnlySpan<float> rawRow)
    {
        CheckWidth(rawRow.Length);
        lock (_gate)
        {
            for (var j = 0; j < _scratch.Length; j++) _scratch[j] = (rawRow[j] - _mean[j]) / _scale[j];
            using (var input = _single.data<float>()) input.CopyFrom(_scratch);
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            Network.eval();
            var logits = Network.forward(_single);
            using var output = logits.data<float>();
            return Sigmoid(output[0]);
        }
    }

    /// <summary>Whether <paramref name="rawRow"/> is flagged: its attack probability is at least <see cref="Threshold"/>.</summary>
    public bool IsAttack(ReadOnlySpan<float> rawRow) => AttackProbability(rawRow) >= Threshold;

    /// <summary>The most likely family of each raw row, as an index into <see cref="Families"/>.</summary>
    public int[] PredictFamily(IReadOnlyList<float[]> rawRows)
    {
        var logits = Logits(rawRows);
        var width = 1 + Families.Count;
        var result = new int[rawRows.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var bestIndex = 0;
            for (var k = 1; k < Families.Count; k++)
            {
                if (logits[i * width + 1 + k] > logits[i * width + 1 + bestIndex]) bestIndex = k;
            }
            result[i] = bestIndex;
        }
        return result;
    }

    /// <summary>
    /// Writes the model to one file (header with the feature names, group, families, scaler, threshold and architecture,
    /// then the weights, then a SHA-256 of all of it), via a temporary file renamed over <paramref name="path"/>. The
    /// same model always gives the same bytes.
    /// </summary>
    public void Save(string path) => DetectorFile.Save(this, path);

    /// <summary>Reads a file written by <see cref="Save"/>.</summary>
    /// <exception cref="DetectorFormatException">The file is not one, or is truncated, corrupt or of a newer format.</exception>
    public static Detector Load(string path) => DetectorFile.Load(path);

    /// <summary>The model file's bytes (what <see cref="Save"/> writes).</summary>
    public byte[] ToBytes() => DetectorFile.Encode(this);

    /// <summary>A detector from the bytes of a model file (<paramref name="name"/> names it in errors).</summary>
    /// <exception cref="DetectorFormatException">The bytes are not a model file this version reads.</exception>
    public static Detector FromBytes(byte[] bytes, string name = "model") => DetectorFile.Decode(bytes, name);

    public void Dispose()
    {
        _single.Dispose();
        Network.Dispose();
    }

    /// <summary>Flat logits [N * (1 + F)] of raw rows, computed in batches in eval mode without autograd.</summary>
    private float[] Logits(IReadOnlyList<float[]> rawRows)
    {
        ArgumentNullException.ThrowIfNull(rawRows);
        foreach (var r in rawRows) CheckWidth(r.Length);
        var width = 1 + Families.Count;
        var result = new float[rawRows.Count * width];
        const int Chunk = 4096;
        lock (_gate)
        {
            using var noGrad = torch.no_grad();
            Network.eval();
            for (var start = 0; start < rawRows.Count; start += Chunk)
            {
                using var scope = torch.NewDisposeScope();
                var count = Math.Min(Chunk, rawRows.Count - start);
                var flat = new float[count * _mean.Length];
                for (var i = 0; i < count; i++)
                {
                    var row = rawRows[start + i];
                    for (var j = 0; j < _mean.Length; j++) flat[i * _mean.Length + j] = (row[j] - _mean[j]) / _scale[j];
                }
                var logits = Network.forward(torch.tensor(flat, [count, _mean.Length]));
                using var values = logits.contiguous().data<float>();
                var chunk = values.ToArray();
                Array.Copy(chunk, 0, result, start * width, chunk.Length);
            }
        }
        return result;
    }

    private void CheckWidth(int width)
    {
        if (width != FeatureNames.Count)
            throw new ArgumentException($"a row has {width} features; this detector reads {FeatureNames.Count} ({FeatureGroup})");
    }

    internal static float Sigmoid(float logit) => (float)(1 / (1 + Math.Exp(-(double)logit)));

    /// <summary>The family list of the training rows: benign families first, then attack families, each in ordinal order.</summary>
    private static List<string> FamiliesOf(TabularDataset data)
    {
        var benign = data.Families.Where((_, i) => data.Labels[i] == 0).Distinct().Order(StringComparer.Ordinal);
        var attacks = data.Families.Where((_, i) => data.Labels[i] == 1).Distinct().Order(StringComparer.Ordinal);
        return [.. benign.Concat(attacks).Distinct(StringComparer.Ordinal)];
    }

    private static Tensor Matrix(float[][] rows)
    {
        var width = rows.Length == 0 ? 0 : rows[0].Length;
        var flat = new float[rows.Length * width];
        for (var i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * width);
        return torch.tensor(flat, [rows.Length, width]);
    }

    /// <summary>Attack probabilities of scaled rows and their mean unweighted BCE.</summary>
    private static (float[] Probabilities, double Loss) ScoreScaled(torch.nn.Module<Tensor, Tensor> network, Tensor x,
        IReadOnlyList<int> labels)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        network.eval();
        var logit = network.forward(x).select(1, 0).contiguous();
        var target = torch.tensor(labels.Select(l => (float)l).ToArray());
        var loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, target).item<float>();
        var logits = logit.data<float>().ToArray();
        return ([.. logits.Select(Sigmoid)], loss);
    }

    private static List<float[]> Snapshot(torch.nn.Module<Tensor, Tensor> network)
    {
        using var scope = torch.NewDisposeScope();
        var weights = new List<float[]>();
        foreach (var p in network.parameters())
        {
            using var values = p.detach().contiguous().data<float>();
            weights.Add(values.ToArray());
        }
        return weights;
    }

    private static void Restore(torch.nn.Module<Tensor, Tensor> network, List<float[]> weights)
    {
        using var noGrad = torch.no_grad();
        var k = 0;
        foreach (var p in network.parameters())
        {
            using var source = torch.tensor(weights[k++], p.shape);
            p.copy_(source);
        }
    }
}

/// <summary>The network's shape: what <see cref="Build"/> needs to rebuild it (saved in the model file).</summary>
internal sealed record Architecture(int Inputs, int[] Hidden, double Dropout, bool CompressInputs, int Families)
{
    /// <summary>[asinh] -> (Linear -> ReLU -> Dropout) per hidden width -> Linear to 1 + Families.</summary>
    public torch.nn.Module<Tensor, Tensor> Build()
    {
        var layers = new List<(string, torch.nn.Module<Tensor, Tensor>)>();
        if (CompressInputs) layers.Add(("asinh", new Asinh()));
        var width = Inputs;
        for (var i = 0; i < Hidden.Length; i++)
        {
            layers.Add(($"fc{i + 1}", torch.nn.Linear(width, Hidden[i])));
            layers.Add(($"relu{i + 1}", torch.nn.ReLU()));
            if (Dropout > 0) layers.Add(($"dropout{i + 1}", torch.nn.Dropout(Dropout)));
            width = Hidden[i];
        }
        layers.Add(("out", torch.nn.Linear(width, 1 + Families)));
        return torch.nn.Sequential(layers.ToArray());
    }
}

/// <summary>asinh(x), elementwise: a smooth signed log that tames heavy-tailed inputs and keeps gradients everywhere.</summary>
internal sealed class Asinh() : torch.nn.Module<Tensor, Tensor>(nameof(Asinh))
{
    public override Tensor forward(Tensor input) => input.asinh();
}

/// <summary>Builds a <see cref="StandardScaler"/> from saved parameters (its constructor is private to the data layer).</summary>
internal static class ScalerFactory
{
    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    public static extern StandardScaler Create(float[] mean, float[] scale);
}
