using System.Globalization;
using Chain.Ai.Torch;
using TorchSharp;
using TorchSharp.Modules;
using Tensor = TorchSharp.torch.Tensor;

namespace Chain.Ai.Federated;

/// <summary>Refused federated-learning input that is not a plain argument error (an impossible partition, mismatched data).</summary>
public sealed class FederatedException(string message) : Exception(message);

/// <summary>
/// The federated model: an MLP on already-scaled features, [asinh] → (Linear → ReLU) per hidden width → Linear → one
/// attack logit. No dropout and no batch-dependent layers, so a forward pass depends only on the parameters.
/// <para>
/// Parameters travel as one flat float vector in a fixed order: for each layer, input side first, its weight (row-major,
/// [out, in]) then its bias — the order of <c>parameters()</c>. <see cref="GetParameters"/> and
/// <see cref="SetParameters"/> round-trip exactly. Not thread-safe.
/// </para>
/// </summary>
public sealed class FederatedMlp : IDisposable
{
    /// <summary>The hidden widths used when none are given.</summary>
    public static IReadOnlyList<int> DefaultHidden { get; } = [64, 32];

    private readonly List<Parameter> _parameters;

    private FederatedMlp(torch.nn.Module<Tensor, Tensor> network, int inputs, int[] hidden, bool compressInputs)
    {
        Network = network;
        Inputs = inputs;
        Hidden = hidden;
        CompressInputs = compressInputs;
        _parameters = [.. network.parameters()];
        ParameterCount = checked((int)_parameters.Sum(p => p.numel()));
        network.eval();
    }

    public int Inputs { get; }

    public int ParameterCount { get; }

    public IReadOnlyList<int> Hidden { get; }

    /// <summary>Whether the scaled features pass through asinh first (a fixed, parameter-free squashing of heavy tails).</summary>
    public bool CompressInputs { get; }

    internal torch.nn.Module<Tensor, Tensor> Network { get; }

    internal IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>
    /// A new MLP with <paramref name="inputs"/> inputs, hidden widths <paramref name="hidden"/> (default 64, 32) and one
    /// output, initialised by libtorch's default (Kaiming-uniform) from <paramref name="seed"/>: the same seed gives the
    /// same parameters. <paramref name="compressInputs"/> (default true, as the central detector) puts asinh in front.
    /// </summary>
    public static FederatedMlp Create(int inputs, int seed, IReadOnlyList<int>? hidden = null, bool compressInputs = true)
    {
        if (inputs < 1 || inputs > 100_000) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, "inputs must be in 1..100000");
        var widths = (hidden ?? DefaultHidden).ToArray();
        if (widths.Length == 0 || widths.Any(h => h < 1 || h > 4096))
            throw new ArgumentException("hidden: give 1 or more layer widths, each in 1..4096", nameof(hidden));
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(seed);
        var layers = new List<(string, torch.nn.Module<Tensor, Tensor>)>();
        if (compressInputs) layers.Add(("asinh", new AsinhLayer()));
        var width = inputs;
        for (var i = 0; i < widths.Length; i++)
        {
            layers.Add(($"fc{i + 1}", torch.nn.Linear(width, widths[i])));
            layers.Add(($"relu{i + 1}", torch.nn.ReLU()));
            width = widths[i];
        }
        layers.Add(("out", torch.nn.Linear(width, 1)));
        return new FederatedMlp(torch.nn.Sequential(layers.ToArray()), inputs, widths, compressInputs);
    }

    /// <summary>All parameters as one flat vector (the fixed order in the class summary).</summary>
    public float[] GetParameters()
    {
        var result = new float[ParameterCount];
        var offset = 0;
        foreach (var p in _parameters)
        {
            using var detached = p.detach();
            using var contiguous = detached.contiguous();
            var values = contiguous.data<float>().ToArray();
            values.CopyTo(result, offset);
            offset += values.Length;
        }
        return result;
    }

    /// <summary>Overwrites all parameters from a flat vector of exactly <see cref="ParameterCount"/> finite values.</summary>
    public void SetParameters(ReadOnlySpan<float> parameters)
    {
        if (parameters.Length != ParameterCount)
            throw new ArgumentException($"{parameters.Length} parameters given, the model has {ParameterCount}", nameof(parameters));
        for (var i = 0; i < parameters.Length; i++)
        {
            if (!float.IsFinite(parameters[i]))
                throw new ArgumentException($"parameter {i} is not finite ({parameters[i].ToString(CultureInfo.InvariantCulture)})", nameof(parameters));
        }
        using var noGrad = torch.no_grad();
        var offset = 0;
        foreach (var p in _parameters)
        {
            var n = (int)p.numel();
            using var source = torch.tensor(parameters.Slice(offset, n).ToArray(), p.shape);
            p.copy_(source);
            offset += n;
        }
    }

    /// <summary>The attack probability (sigmoid of the logit) of each scaled row.</summary>
    public float[] Predict(float[][] scaledRows)
    {
        ArgumentNullException.ThrowIfNull(scaledRows);
        var result = new float[scaledRows.Length];
        const int Chunk = 4096;
        using var noGrad = torch.no_grad();
        Network.eval();
        for (var start = 0; start < scaledRows.Length; start += Chunk)
        {
            using var scope = torch.NewDisposeScope();
            var count = Math.Min(Chunk, scaledRows.Length - start);
            var x = Matrix(scaledRows, start, count, Inputs);
            var probabilities = torch.sigmoid(Network.forward(x).reshape(-1)).contiguous();
            probabilities.data<float>().ToArray().CopyTo(result, start);
        }
        return result;
    }

    public void Dispose() => Network.Dispose();

    /// <summary>Rows [start, start + count) as a [count, width] tensor; every row must have <paramref name="width"/> values.</summary>
    internal static Tensor Matrix(float[][] rows, int start, int count, int width)
    {
        var flat = new float[count * width];
        for (var i = 0; i < count; i++)
        {
            var row = rows[start + i] ?? throw new ArgumentException($"row {start + i} is null");
            if (row.Length != width) throw new ArgumentException($"row {start + i} has {row.Length} features, the model reads {width}");
            row.CopyTo(flat, i * width);
        }
        return torch.tensor(flat, [count, width]);
    }

    private sealed class AsinhLayer() : torch.nn.Module<Tensor, Tensor>("asinh")
    {
        public override Tensor forward(Tensor input) => input.asinh();
    }
}

/// <summary>One client's (hospital's) training rows: scaled features in time order and 0/1 labels (1 = attack).</summary>
public sealed record ClientData(string Client, float[][] Features, int[] Labels)
{
    public int Count => Labels.Length;

    public int Attacks => Labels.Count(l => l == 1);

    /// <summary>Throws <see cref="ArgumentException"/> unless the rows and labels agree and every row has <paramref name="width"/> finite values.</summary>
    public void Validate(int width)
    {
        if (string.IsNullOrWhiteSpace(Client)) throw new ArgumentException("a client needs a name");
        if (Features is null || Labels is null) throw new ArgumentException($"client '{Client}': no features or labels");
        if (Features.Length != Labels.Length)
            throw new ArgumentException($"client '{Client}': {Features.Length} rows but {Labels.Length} labels");
        for (var i = 0; i < Features.Length; i++)
        {
            var row = Features[i];
            if (row is null || row.Length != width)
                throw new ArgumentException($"client '{Client}': row {i} has {row?.Length ?? 0} features, expected {width}");
            foreach (var v in row)
            {
                if (!float.IsFinite(v)) throw new ArgumentException($"client '{Client}': row {i} holds a non-finite value");
            }
            if (Labels[i] is not (0 or 1)) throw new ArgumentException($"client '{Client}': label {Labels[i]} at row {i} is not 0 or 1");
        }
    }
}

/// <summary>
/// How a client trains locally: plain minibatch SGD (optional momentum, reset every round) on binary cross-entropy,
/// <paramref name="Epochs"/> passes over its rows in an order shuffled by <paramref name="Seed"/>.
/// <paramref name="ProxMu"/> &gt; 0 adds FedProx's (mu/2)·‖w − w_global‖² (Li et al. 2020).
/// <paramref name="PositiveWeight"/> weighs the attack class in the loss (1 = unweighted).
/// </summary>
public sealed record LocalTrainingOptions(int Epochs = 1, int BatchSize = 64, double LearningRate = 0.05, double ProxMu = 0, int Seed = 1,
    double Momentum = 0, double PositiveWeight = 1)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (Epochs < 1 || Epochs > 10_000) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be in 1..10000");
        if (BatchSize < 1 || BatchSize > 1_000_000)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be in 1..1000000");
        if (!(LearningRate > 0 && LearningRate <= 10))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be in (0, 10]");
        if (!(ProxMu >= 0 && ProxMu <= 1e6)) throw new ArgumentOutOfRangeException(nameof(ProxMu), ProxMu, "ProxMu must be in [0, 1e6]");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1)");
        if (!(PositiveWeight > 0 && PositiveWeight <= 1e6))
            throw new ArgumentOutOfRangeException(nameof(PositiveWeight), PositiveWeight, "PositiveWeight must be in (0, 1e6]");
    }
}

/// <summary>A client's local step of a round.</summary>
public static class LocalTrainer
{
    /// <summary>
    /// Loads <paramref name="global"/> into <paramref name="model"/>, trains on <paramref name="data"/> as
    /// <paramref name="options"/> say and returns delta = local − global (the model is left holding the local
    /// parameters). A client without rows returns a zero delta. Deterministic for a given seed.
    /// </summary>
    public static float[] Train(FederatedMlp model, ReadOnlySpan<float> global, ClientData data, LocalTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        data.Validate(model.Inputs);
        model.SetParameters(global);
        if (data.Count == 0) return new float[model.ParameterCount];
        var globalCopy = global.ToArray();

        var network = model.Network;
        var parameters = model.Parameters;
        using var x = FederatedMlp.Matrix(data.Features, 0, data.Count, model.Inputs);
        using var y = torch.tensor(data.Labels.Select(l => (float)l).ToArray());
        using var posWeight = torch.tensor(new[] { (float)options.PositiveWeight });
        var anchors = new List<Tensor>();
        if (options.ProxMu > 0)
        {
            var offset = 0;
            foreach (var p in parameters)
            {
                var n = (int)p.numel();
                anchors.Add(torch.tensor(globalCopy.AsSpan(offset, n).ToArray(), p.shape));
                offset += n;
            }
        }
        try
        {
            using var optimizer = torch.optim.SGD(parameters, options.LearningRate, momentum: options.Momentum);
            var order = Enumerable.Range(0, data.Count).Select(i => (long)i).ToArray();
            var shuffle = new Random(options.Seed);
            network.train();
            for (var epoch = 0; epoch < options.Epochs; epoch++)
            {
                shuffle.Shuffle(order);
                for (var start = 0; start < order.Length; start += options.BatchSize)
                {
                    using var scope = torch.NewDisposeScope();
                    var count = Math.Min(options.BatchSize, order.Length - start);
                    var index = torch.tensor(order.AsSpan(start, count).ToArray());
                    var logits = network.forward(x.index_select(0, index)).reshape(-1);
                    var loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y.index_select(0, index), pos_weights: posWeight);
                    if (options.ProxMu > 0)
                    {
                        var proximal = torch.zeros(1);
                        for (var k = 0; k < anchors.Count; k++) proximal = proximal + (parameters[k] - anchors[k]).pow(2).sum();
                        loss = loss + proximal * (options.ProxMu / 2);
                    }
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                }
            }
        }
        finally
        {
            network.eval();
            foreach (var a in anchors) a.Dispose();
        }
        var local = model.GetParameters();
        for (var i = 0; i < local.Length; i++)
        {
            if (!float.IsFinite(local[i]))
                throw new FederatedException($"client '{data.Client}': local training diverged (non-finite parameter); lower the learning rate");
            local[i] -= globalCopy[i];
        }
        return local;
    }

    /// <summary>Mean (unweighted) binary cross-entropy of the model's current parameters on <paramref name="data"/>.</summary>
    public static double Loss(FederatedMlp model, ClientData data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        data.Validate(model.Inputs);
        if (data.Count == 0) throw new ArgumentException($"client '{data.Client}' has no rows", nameof(data));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        model.Network.eval();
        var logits = model.Network.forward(FederatedMlp.Matrix(data.Features, 0, data.Count, model.Inputs)).reshape(-1);
        var target = torch.tensor(data.Labels.Select(l => (float)l).ToArray());
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, target).item<float>();
    }
}
