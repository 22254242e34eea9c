using System.Globalization;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Chain.Ai.Torch;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Chain.Ai.Federated;

/// <summary>
/// Rows of one modality (raw, unscaled), their labels (1 = attack) and their ids: the row's index in the dataset, the
/// key two parties use to pair the same event's rows (as in vertical federated learning). Ids are not features.
/// </summary>
public sealed record ModalityRows(IReadOnlyList<float[]> Rows, IReadOnlyList<int> Labels, IReadOnlyList<long> Ids)
{
    public int Count => Rows.Count;

    /// <summary>Features per row (0 when there are no rows).</summary>
    public int Width => Rows.Count == 0 ? 0 : Rows[0].Length;

    /// <summary>The <paramref name="group"/> features of the rows at <paramref name="indexes"/> (ids = the indexes).</summary>
    /// <exception cref="DatasetException">The dataset has no feature of <paramref name="group"/>.</exception>
    public static ModalityRows Of(TabularDataset data, IReadOnlyList<int> indexes, FeatureGroup group)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(indexes);
        var selected = data.Select(group);
        return new ModalityRows([.. indexes.Select(i => selected.Rows[i])], [.. indexes.Select(i => selected.Labels[i])],
            [.. indexes.Select(i => (long)i)]);
    }

    /// <summary>Throws <see cref="DatasetException"/> unless the three lists agree, rows have one width and labels are 0/1.</summary>
    internal void Check(string what, bool needBothClasses)
    {
        if (Rows is null || Labels is null || Ids is null) throw new ArgumentException($"{what}: rows, labels and ids are required");
        if (Rows.Count == 0) throw new DatasetException($"{what}: no rows");
        if (Labels.Count != Rows.Count || Ids.Count != Rows.Count)
            throw new DatasetException($"{what}: {Rows.Count} rows, {Labels.Count} labels, {Ids.Count} ids");
        if (Width == 0) throw new DatasetException($"{what}: the rows have no features (an empty modality)");
        if (Rows.Any(r => r is null || r.Length != Width)) throw new DatasetException($"{what}: the rows differ in width");
        if (Labels.Any(l => l is not (0 or 1))) throw new DatasetException($"{what}: labels must be 0 or 1");
        var positives = Labels.Count(l => l == 1);
        if (needBothClasses && (positives == 0 || positives == Labels.Count))
            throw new DatasetException($"{what}: both benign and attack rows are needed (attacks: {positives} of {Labels.Count})");
    }
}

/// <summary>
/// How split learning trains: the client-side encoder (features -> <see cref="EncoderHidden"/> -> ReLU ->
/// <see cref="CutWidth"/>, linear at the cut), the server-side head (cut -> ReLU -> <see cref="HeadHidden"/> -> ReLU ->
/// 1 attack logit), AdamW at both sides, class-weighted BCE. No dropout, so a forward pass draws no random numbers and
/// the split computation is exactly the central one. Immutable; <see cref="Validate"/> checks ranges.
/// </summary>
public sealed record SplitLearningOptions
{
    /// <summary>Hospitals holding vital-sign rows (the training rows are dealt to them in turn). Default 3.</summary>
    public int Clients { get; init; } = 3;

    /// <summary>Width of the cut layer: the activations a client sends per row. Default 8.</summary>
    public int CutWidth { get; init; } = 8;

    /// <summary>Hidden width of the client-side encoder. Default 32.</summary>
    public int EncoderHidden { get; init; } = 32;

    /// <summary>Hidden width of the server-side head. Default 16.</summary>
    public int HeadHidden { get; init; } = 16;

    /// <summary>Maximum epochs (an epoch = every client takes one turn over its rows). Default 30.</summary>
    public int Epochs { get; init; } = 30;

    /// <summary>Rows per step (per message across the cut). Default 128.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>AdamW learning rate (both sides). Default 2e-3.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>AdamW weight decay (both sides). Default 1e-4.</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>BCE weight of the attack class; null = benign / attack rows in the training set. Default null.</summary>
    public double? PositiveWeight { get; init; }

    /// <summary>asinh after standardising (tames heavy-tailed features). Default true.</summary>
    public bool CompressInputs { get; init; } = true;

    /// <summary>Stop after this many epochs without a better validation AUROC (0 = run every epoch). Default 8.</summary>
    public int Patience { get; init; } = 8;

    /// <summary>Seeds initialisation (encoder: Seed, head: Seed + 1, server-side encoders: Seed + 2) and shuffling.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the option when a value is out of range.</summary>
    public void Validate()
    {
        Range(nameof(Clients), Clients, 1, 1000);
        Range(nameof(CutWidth), CutWidth, 1, 4096);
        Range(nameof(EncoderHidden), EncoderHidden, 1, 4096);
        Range(nameof(HeadHidden), HeadHidden, 1, 4096);
        Range(nameof(Epochs), Epochs, 1, 100_000);
        Range(nameof(BatchSize), BatchSize, 1, 1_000_000);
        Range(nameof(Patience), Patience, 0, 100_000);
        if (!(LearningRate > 0 && LearningRate <= 10))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be in (0, 10]");
        if (!(WeightDecay >= 0 && WeightDecay <= 10))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "must be in [0, 10]");
        if (PositiveWeight is { } w && !(w > 0 && w <= 1e6))
            throw new ArgumentOutOfRangeException(nameof(PositiveWeight), w, "must be in (0, 1e6]");
    }

    /// <summary>The BCE weight of the attack class for <paramref name="labels"/> (the option, or benign / attack).</summary>
    public double PositiveWeightFor(IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (PositiveWeight is { } w) return w;
        var positives = labels.Count(l => l == 1);
        if (positives == 0 || positives == labels.Count)
            throw new DatasetException($"both benign and attack rows are needed to weight the loss (attacks: {positives} of {labels.Count})");
        return (double)(labels.Count - positives) / positives;
    }

    private static void Range(string name, int value, int low, int high)
    {
        if (value < low || value > high) throw new ArgumentOutOfRangeException(name, value, $"must be in {low}..{high}");
    }
}

/// <summary>
/// One message from a client to the server, across the cut: the cut-layer activations of a batch
/// (<see cref="Count"/> x width, row-major), the batch's labels (null for inference) and the rows' ids. This is all the
/// server ever receives from a client: no raw or standardised features. Wire size <see cref="Bytes"/>: 4 bytes per
/// activation and per label, 8 per id.
/// </summary>
/// <remarks>The label-sharing variant of split learning (Gupta and Raskar's vanilla configuration): the server holds
/// the loss, so labels cross the cut. The U-shaped variant that keeps labels at the client is not implemented.</remarks>
public sealed record CutBatch(IReadOnlyList<long> RowIds, float[] Activations, float[]? Labels)
{
    public int Count => RowIds.Count;

    public long Bytes => 4L * Activations.Length + 4L * (Labels?.Length ?? 0) + 8L * RowIds.Count;
}

/// <summary>
/// The server's reply to a training <see cref="CutBatch"/>: the gradient of the batch's loss with respect to the cut
/// activations (same shape) and the loss. Wire size <see cref="Bytes"/>: 4 bytes per gradient value plus 8 for the loss.
/// </summary>
public sealed record CutReply(float[] Gradient, double Loss)
{
    public long Bytes => 4L * Gradient.Length + 8;
}

/// <summary>
/// The server side of split learning: everything a client can ask of it. Messages carry plain arrays (no tensors, no
/// references into the client's model), so the boundary could be a network connection.
/// </summary>
public interface ISplitServer
{
    /// <summary>The width of the cut activations this server accepts per row.</summary>
    int CutWidth { get; }

    /// <summary>One training step: forward the head on the activations, backward the loss, step the server's optimiser,
    /// and return the gradient at the cut. The batch must carry labels.</summary>
    CutReply Train(CutBatch batch);

    /// <summary>Inference: the attack logit of each row of the batch (labels are not needed).</summary>
    float[] Logits(CutBatch batch);

    /// <summary>Control message: remember the server-side weights as the best so far (model selection).</summary>
    void KeepBest();

    /// <summary>Control message: go back to the weights of the last <see cref="KeepBest"/>.</summary>
    void RestoreBest();
}

/// <summary>Bytes that crossed the cut (and between clients) in one epoch.</summary>
/// <param name="Upload">Client to server, training messages (activations, labels, ids).</param>
/// <param name="Download">Server to client, training replies (cut gradients, losses).</param>
/// <param name="Handoff">Client to client: encoder weights handed on (sequential split learning).</param>
/// <param name="Inference">Both ways, validation scoring (activations and ids up, logits down).</param>
public sealed record SplitTraffic(long Upload, long Download, long Handoff, long Inference)
{
    public static SplitTraffic None { get; } = new(0, 0, 0, 0);

    /// <summary>Training bytes across the cut: <see cref="Upload"/> + <see cref="Download"/>.</summary>
    public long Cut => Upload + Download;
}

/// <summary>One epoch of split (or central) training.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's rows (as the server computed it).</param>
/// <param name="ValidationAuroc">NaN when the validation rows hold one class only.</param>
/// <param name="Traffic">Bytes that crossed the cut in the epoch (all zero for central training).</param>
public sealed record SplitEpochReport(int Epoch, double TrainLoss, double ValidationAuroc, SplitTraffic Traffic);

/// <summary>
/// The plain server of split learning: a head from the cut activations to the attack logit, class-weighted BCE,
/// AdamW. It sees cut activations, labels and ids only.
/// </summary>
public sealed class SplitHeadServer : ISplitServer, IDisposable
{
    private readonly torch.nn.Module<Tensor, Tensor> _head;
    private readonly torch.optim.Optimizer _optimizer;
    private readonly Tensor _positiveWeight;
    private List<float[]> _best;

    private SplitHeadServer(int cutWidth, torch.nn.Module<Tensor, Tensor> head, double positiveWeight, SplitLearningOptions options)
    {
        CutWidth = cutWidth;
        _head = head;
        _optimizer = torch.optim.AdamW(_head.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        _positiveWeight = torch.tensor(new[] { (float)positiveWeight });
        _best = Weights.Snapshot(_head);
    }

    public int CutWidth { get; }

    /// <summary>A head for <paramref name="options"/> (initialised with seed Seed + 1) weighting attacks by <paramref name="positiveWeight"/>.</summary>
    public static SplitHeadServer Create(SplitLearningOptions options, double positiveWeight)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!(positiveWeight > 0 && positiveWeight <= 1e6))
            throw new ArgumentOutOfRangeException(nameof(positiveWeight), positiveWeight, "must be in (0, 1e6]");
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(options.Seed + 1);
        return new SplitHeadServer(options.CutWidth, Nets.Head(options.CutWidth, options.HeadHidden), positiveWeight, options);
    }

    public CutReply Train(CutBatch batch)
    {
        var (activations, labels) = Nets.Receive(batch, CutWidth, needLabels: true);
        using var scope = torch.NewDisposeScope();
        _head.train();
        var cut = torch.tensor(activations, [batch.Count, CutWidth]).requires_grad_(true);
        var logit = _head.forward(cut).select(1, 0);
        var loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.tensor(labels!), pos_weights: _positiveWeight);
        _optimizer.zero_grad();
        loss.backward();
        _optimizer.step();
        return new CutReply(Nets.Values(cut.grad!), loss.item<float>());
    }

    public float[] Logits(CutBatch batch)
    {
        var (activations, _) = Nets.Receive(batch, CutWidth, needLabels: false);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        _head.eval();
        return Nets.Values(_head.forward(torch.tensor(activations, [batch.Count, CutWidth])).select(1, 0));
    }

    public void KeepBest() => _best = Weights.Snapshot(_head);

    public void RestoreBest() => Weights.Restore(_head, _best);

    /// <summary>The head's parameters (for tests comparing with central training).</summary>
    internal List<float[]> HeadWeights() => Weights.Snapshot(_head);

    public void Dispose()
    {
        _optimizer.Dispose();
        _positiveWeight.Dispose();
        _head.Dispose();
    }
}

/// <summary>
/// A trained split model: the client-side encoder (as it stands after the last client's turn, or at the best epoch)
/// with the scaler, and the server it was trained with. Scoring sends cut activations through the server, like
/// training. Does not own the server (its creator disposes it).
/// </summary>
public sealed class SplitModel : IDisposable
{
    private readonly torch.nn.Module<Tensor, Tensor> _encoder;
    private readonly ISplitServer _server;

    internal SplitModel(torch.nn.Module<Tensor, Tensor> encoder, StandardScaler scaler, ISplitServer server,
        IReadOnlyList<SplitEpochReport> history, int bestEpoch)
    {
        _encoder = encoder;
        Scaler = scaler;
        _server = server;
        History = history;
        BestEpoch = bestEpoch;
    }

    /// <summary>The standardisation of the client features (see <see cref="SplitLearning.Train"/> for where it is fitted).</summary>
    public StandardScaler Scaler { get; }

    public IReadOnlyList<SplitEpochReport> History { get; }

    /// <summary>The epoch whose weights were kept (highest validation AUROC).</summary>
    public int BestEpoch { get; }

    /// <summary>The attack probability of each row: encoder at the client, head at the server.</summary>
    public float[] AttackProbability(ModalityRows rows) =>
        [.. Logits(rows).Select(Detector.Sigmoid)];

    /// <summary>The cut activations of each row (what the client would send).</summary>
    public float[][] Embed(ModalityRows rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var result = new List<float[]>();
        foreach (var batch in SplitLearning.Encode(_encoder, Scaler, rows, _server.CutWidth))
        {
            for (var i = 0; i < batch.Count; i++) result.Add(batch.Activations.AsSpan(i * _server.CutWidth, _server.CutWidth).ToArray());
        }
        return [.. result];
    }

    internal float[] Logits(ModalityRows rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return [.. SplitLearning.Encode(_encoder, Scaler, rows, _server.CutWidth).SelectMany(b => _server.Logits(b))];
    }

    /// <summary>The encoder's parameters (for tests comparing with central training).</summary>
    internal List<float[]> EncoderWeights() => Weights.Snapshot(_encoder);

    internal torch.nn.Module<Tensor, Tensor> EncoderModule => _encoder;

    public void Dispose() => _encoder.Dispose();
}

/// <summary>
/// Split learning (Vepakomma et al. 2018; Gupta and Raskar 2018) of the attack detector over one modality held by
/// several hospitals.
/// <list type="number">
/// <item>The training rows are dealt to <see cref="SplitLearningOptions.Clients"/> clients in turn (row k to client k
/// mod K: each hospital holds a share of the same period). The scaler is fitted on all training rows: in a deployment
/// the per-feature means and variances would come from a secure sum of the clients' sums and sums of squares.</item>
/// <item>Sequential (round-robin) split learning: in each epoch the clients take turns; a client runs through its rows
/// in shuffled batches (its own seeded order) and then hands its encoder weights to the next client (counted as
/// <see cref="SplitTraffic.Handoff"/>). Each client keeps its own AdamW state. No SplitFed averaging.</item>
/// <item>One step: client forward to the cut; send <see cref="CutBatch"/> (activations, labels, ids: the label-sharing
/// variant); server forward, BCE, backward, step; the server returns <see cref="CutReply"/> (the gradient at the cut);
/// client backward from that gradient and step.</item>
/// <item>After each epoch the validation rows are scored through the cut (counted as <see cref="SplitTraffic.Inference"/>);
/// the best-AUROC epoch's weights are kept on both sides (<see cref="ISplitServer.KeepBest"/>), with early stopping.</item>
/// </list>
/// With one client, the result equals <see cref="TrainCentral"/> (the same encoder and head in one process) for the
/// same seed: the cut is exact.
/// </summary>
public static class SplitLearning
{
    private const int ScoringChunk = 4096;

    /// <summary>Trains the client-side encoder with <paramref name="server"/> (see the class summary).</summary>
    /// <exception cref="DatasetException">Empty or inconsistent rows, a training part without both classes.</exception>
    public static SplitModel Train(ModalityRows train, ModalityRows validation, ISplitServer server, SplitLearningOptions options,
        IProgress<SplitEpochReport>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        train.Check("training rows", needBothClasses: true);
        validation.Check("validation rows", needBothClasses: false);
        if (validation.Width != train.Width)
            throw new DatasetException($"the validation rows have {validation.Width} features, the training rows {train.Width}");
        if (server.CutWidth != options.CutWidth)
            throw new ArgumentException($"the server takes cut width {server.CutWidth}, the options say {options.CutWidth}", nameof(server));
        if (train.Count < options.Clients)
            throw new DatasetException($"{train.Count} training rows cannot be dealt to {options.Clients} clients");
        TorchRuntime.EnsureLoaded();
        using var single = new SingleThread();

        var scaler = StandardScaler.Fit(train.Rows);
        torch.manual_seed(options.Seed);
        var template = Nets.Encoder(train.Width, options.EncoderHidden, options.CutWidth, options.CompressInputs);
        var clients = new List<SplitClient>();
        try
        {
            for (var k = 0; k < options.Clients; k++)
            {
                var mine = Enumerable.Range(0, train.Count).Where(i => i % options.Clients == k).ToArray();
                var encoder = k == 0 ? template : Nets.Encoder(train.Width, options.EncoderHidden, options.CutWidth, options.CompressInputs);
                if (k > 0) Weights.Restore(encoder, Weights.Snapshot(template));
                clients.Add(new SplitClient(k, [.. mine.Select(i => scaler.Transform(train.Rows[i]))], [.. mine.Select(i => (float)train.Labels[i])],
                    [.. mine.Select(i => train.Ids[i])], encoder, options));
            }

            var current = clients[0];
            var (history, bestEpoch) = Loop.Run(options, validation.Labels, epoch =>
            {
                long up = 0, down = 0, handoff = 0;
                double loss = 0;
                for (var k = 0; k < clients.Count; k++)
                {
                    var client = clients[k];
                    if (!ReferenceEquals(client, current)) handoff += current.HandTo(client);
                    var turn = client.TrainTurn(server, options.BatchSize);
                    (loss, up, down) = (loss + turn.LossSum, up + turn.Upload, down + turn.Download);
                    current = client;
                }
                return (loss / train.Count, new SplitTraffic(up, down, handoff, 0));
            }, () =>
            {
                var batches = Encode(current.Encoder, scaler, validation, options.CutWidth);
                var logits = batches.SelectMany(b => server.Logits(b)).ToArray();
                var bytes = batches.Sum(b => b.Bytes) + 4L * logits.Length;
                return ([.. logits.Select(Detector.Sigmoid)], bytes);
            }, keepBest: () =>
            {
                current.KeepBest();
                server.KeepBest();
            }, restoreBest: () =>
            {
                current.RestoreBest();
                server.RestoreBest();
            }, progress);

            var final = Nets.Encoder(train.Width, options.EncoderHidden, options.CutWidth, options.CompressInputs);
            Weights.Restore(final, Weights.Snapshot(current.Encoder));
            return new SplitModel(final, scaler, server, history, bestEpoch);
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }

    /// <summary>
    /// The reference: the same encoder and head (same initialisation, seeds, batch order, loss and optimiser settings)
    /// trained in one process, no cut, all rows as one client. Also the network-only model of
    /// <see cref="MultimodalComparison"/>.
    /// </summary>
    public static CentralModel TrainCentral(ModalityRows train, ModalityRows validation, SplitLearningOptions options,
        IProgress<SplitEpochReport>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        train.Check("training rows", needBothClasses: true);
        validation.Check("validation rows", needBothClasses: false);
        if (validation.Width != train.Width)
            throw new DatasetException($"the validation rows have {validation.Width} features, the training rows {train.Width}");
        TorchRuntime.EnsureLoaded();
        using var single = new SingleThread();

        var scaler = StandardScaler.Fit(train.Rows);
        torch.manual_seed(options.Seed);
        var encoder = Nets.Encoder(train.Width, options.EncoderHidden, options.CutWidth, options.CompressInputs);
        torch.manual_seed(options.Seed + 1);
        var head = Nets.Head(options.CutWidth, options.HeadHidden);
        var model = new CentralModel(encoder, head, scaler);
        var parameters = encoder.parameters().Concat(head.parameters()).ToList();
        using var optimizer = torch.optim.AdamW(parameters, options.LearningRate, weight_decay: options.WeightDecay);
        using var posWeight = torch.tensor(new[] { (float)options.PositiveWeightFor(train.Labels) });
        using var x = Nets.Matrix(scaler.Transform(train.Rows));
        using var y = torch.tensor(train.Labels.Select(l => (float)l).ToArray());
        var shuffle = new Random(options.Seed);
        var order = Enumerable.Range(0, train.Count).Select(i => (long)i).ToArray();
        List<float[]> best = [];
        var (history, bestEpoch) = Loop.Run(options, validation.Labels, epoch =>
        {
            encoder.train();
            head.train();
            shuffle.Shuffle(order);
            double lossSum = 0;
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                using var scope = torch.NewDisposeScope();
                var count = Math.Min(options.BatchSize, order.Length - start);
                var index = torch.tensor(order.AsSpan(start, count).ToArray());
                var logit = head.forward(encoder.forward(x.index_select(0, index))).select(1, 0);
                var loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y.index_select(0, index), pos_weights: posWeight);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>() * count;
            }
            return (lossSum / train.Count, SplitTraffic.None);
        }, () => (model.AttackProbability(validation), 0), keepBest: () => best = model.Snapshot(), restoreBest: () => model.Restore(best),
            progress);
        model.History = history;
        model.BestEpoch = bestEpoch;
        return model;
    }

    /// <summary>The cut activations of <paramref name="rows"/> (scaled, encoded without autograd), as messages of at most 4096 rows.</summary>
    internal static List<CutBatch> Encode(torch.nn.Module<Tensor, Tensor> encoder, StandardScaler scaler, ModalityRows rows, int cutWidth)
    {
        var batches = new List<CutBatch>();
        using var noGrad = torch.no_grad();
        encoder.eval();
        for (var start = 0; start < rows.Count; start += ScoringChunk)
        {
            using var scope = torch.NewDisposeScope();
            var count = Math.Min(ScoringChunk, rows.Count - start);
            var x = Nets.Matrix(scaler.Transform(rows.Rows.Skip(start).Take(count).ToList()));
            var activations = Nets.Values(encoder.forward(x));
            if (activations.Length != count * cutWidth) throw new InvalidOperationException("the encoder's output is not the cut width");
            batches.Add(new CutBatch([.. rows.Ids.Skip(start).Take(count)], activations, null));
        }
        return batches;
    }

    /// <summary>
    /// For the lifetime of a training run: one libtorch intra-op thread (see <see cref="Detector.Train"/> for why), and no
    /// background (concurrent) garbage collection. TorchSharp passes temporary <c>Scalar</c> handles to native calls
    /// without keeping the wrapper alive (its AdamW step does, with the step size), so a collection running on another
    /// thread can finalize the wrapper while libtorch reads it: seen once as "toFloat: Expected false to be true" in
    /// AdamW's addcdiv_ in a long multi-seed run. GCLatencyMode.Batch turns concurrent collection off, leaving blocking
    /// collections at this thread's own allocations, which cannot fall inside a native call.
    /// </summary>
    internal sealed class SingleThread : IDisposable
    {
        private readonly int _threads;
        private readonly System.Runtime.GCLatencyMode _latency = System.Runtime.GCSettings.LatencyMode;

        public SingleThread()
        {
            TorchRuntime.EnsureLoaded();
            _threads = torch.get_num_threads();
            torch.set_num_threads(1);
            System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;
        }

        public void Dispose()
        {
            torch.set_num_threads(_threads);
            System.Runtime.GCSettings.LatencyMode = _latency;
        }
    }
}

/// <summary>The encoder and head trained in one process (<see cref="SplitLearning.TrainCentral"/>).</summary>
public sealed class CentralModel : IDisposable
{
    private readonly torch.nn.Module<Tensor, Tensor> _encoder;
    private readonly torch.nn.Module<Tensor, Tensor> _head;

    internal CentralModel(torch.nn.Module<Tensor, Tensor> encoder, torch.nn.Module<Tensor, Tensor> head, StandardScaler scaler)
    {
        _encoder = encoder;
        _head = head;
        Scaler = scaler;
    }

    public StandardScaler Scaler { get; }

    public IReadOnlyList<SplitEpochReport> History { get; internal set; } = [];

    public int BestEpoch { get; internal set; }

    public float[] AttackProbability(ModalityRows rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        _encoder.eval();
        _head.eval();
        var logits = Nets.Values(_head.forward(_encoder.forward(Nets.Matrix(Scaler.Transform(rows.Rows)))).select(1, 0));
        return [.. logits.Select(Detector.Sigmoid)];
    }

    internal List<float[]> EncoderWeights() => Weights.Snapshot(_encoder);

    internal List<float[]> HeadWeights() => Weights.Snapshot(_head);

    internal List<float[]> Snapshot() => [.. Weights.Snapshot(_encoder), .. Weights.Snapshot(_head)];

    internal void Restore(List<float[]> weights)
    {
        var n = _encoder.parameters().Count();
        Weights.Restore(_encoder, weights.Take(n).ToList());
        Weights.Restore(_head, weights.Skip(n).ToList());
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _head.Dispose();
    }
}

/// <summary>A hospital in split learning: its rows (standardised), its copy of the encoder and its own optimiser state.</summary>
internal sealed class SplitClient : IDisposable
{
    private readonly Tensor _x;
    private readonly float[] _labels;
    private readonly long[] _ids;
    private readonly torch.optim.Optimizer _optimizer;
    private readonly Random _shuffle;
    private readonly int[] _order;
    private List<float[]> _best;

    public SplitClient(int index, float[][] rows, float[] labels, long[] ids, torch.nn.Module<Tensor, Tensor> encoder,
        SplitLearningOptions options)
    {
        Encoder = encoder;
        _x = Nets.Matrix(rows);
        _labels = labels;
        _ids = ids;
        _optimizer = torch.optim.AdamW(encoder.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        // Client 0 shuffles like the central reference (seed Seed), so one client reproduces central training.
        _shuffle = new Random(options.Seed + 7919 * index);
        _order = [.. Enumerable.Range(0, rows.Length)];
        _best = Weights.Snapshot(encoder);
    }

    public torch.nn.Module<Tensor, Tensor> Encoder { get; }

    /// <summary>One turn: every local row once, in shuffled batches, each a round trip across the cut.</summary>
    public (double LossSum, long Upload, long Download) TrainTurn(ISplitServer server, int batchSize)
    {
        Encoder.train();
        _shuffle.Shuffle(_order);
        double lossSum = 0;
        long up = 0, down = 0;
        for (var start = 0; start < _order.Length; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var count = Math.Min(batchSize, _order.Length - start);
            var rows = _order.AsSpan(start, count).ToArray();
            var cut = Encoder.forward(_x.index_select(0, torch.tensor(rows.Select(r => (long)r).ToArray())));
            var message = new CutBatch([.. rows.Select(r => _ids[r])], Nets.Values(cut), [.. rows.Select(r => _labels[r])]);
            // ---- the cut: only `message` goes to the server, only `reply` comes back ----
            var reply = server.Train(message);
            if (reply.Gradient is null || reply.Gradient.Length != message.Activations.Length)
                throw new InvalidOperationException("the server's cut gradient does not match the activations sent");
            _optimizer.zero_grad();
            // d/dcut of sum(cut * g) is g: backpropagates the server's gradient exactly.
            (cut * torch.tensor(reply.Gradient, cut.shape)).sum().backward();
            _optimizer.step();
            lossSum += reply.Loss * count;
            up += message.Bytes;
            down += reply.Bytes;
        }
        return (lossSum, up, down);
    }

    /// <summary>Hands this client's encoder weights to <paramref name="next"/>; returns the bytes sent.</summary>
    public long HandTo(SplitClient next)
    {
        var weights = Weights.Snapshot(Encoder);
        Weights.Restore(next.Encoder, weights);
        return 4L * weights.Sum(w => w.Length);
    }

    public void KeepBest() => _best = Weights.Snapshot(Encoder);

    public void RestoreBest() => Weights.Restore(Encoder, _best);

    public void Dispose()
    {
        _optimizer.Dispose();
        _x.Dispose();
        Encoder.Dispose();
    }
}

/// <summary>The epoch loop shared by split and central training: train, score validation, keep the best, stop early.</summary>
internal static class Loop
{
    public static (List<SplitEpochReport> History, int BestEpoch) Run(SplitLearningOptions options, IReadOnlyList<int> validationLabels,
        Func<int, (double Loss, SplitTraffic Traffic)> trainEpoch, Func<(float[] Probabilities, long Bytes)> scoreValidation,
        Action keepBest, Action restoreBest, IProgress<SplitEpochReport>? progress)
    {
        var hasBoth = validationLabels.Contains(0) && validationLabels.Contains(1);
        var history = new List<SplitEpochReport>();
        var best = (Score: double.NegativeInfinity, Epoch: 0);
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            var (loss, traffic) = trainEpoch(epoch);
            if (!double.IsFinite(loss)) throw new InvalidOperationException($"the training loss diverged at epoch {epoch.ToString(CultureInfo.InvariantCulture)}");
            var (probabilities, bytes) = scoreValidation();
            var auroc = hasBoth ? Metrics.Auroc(validationLabels, probabilities) : double.NaN;
            var report = new SplitEpochReport(epoch, loss, auroc, traffic with { Inference = bytes });
            history.Add(report);
            progress?.Report(report);
            // Without both classes in validation, the last epoch is kept.
            var score = hasBoth ? auroc : epoch;
            if (score > best.Score)
            {
                best = (score, epoch);
                keepBest();
            }
            else if (options.Patience > 0 && epoch - best.Epoch >= options.Patience)
            {
                break;
            }
        }
        restoreBest();
        return (history, best.Epoch);
    }
}

/// <summary>The small networks and tensor helpers of split learning and fusion.</summary>
internal static class Nets
{
    /// <summary>[asinh] -> Linear(inputs, hidden) -> ReLU -> Linear(hidden, output): linear at the cut.</summary>
    public static torch.nn.Module<Tensor, Tensor> Encoder(int inputs, int hidden, int output, bool compress)
    {
        var layers = new List<(string, torch.nn.Module<Tensor, Tensor>)>();
        if (compress) layers.Add(("asinh", new Asinh()));
        layers.Add(("fc1", torch.nn.Linear(inputs, hidden)));
        layers.Add(("relu1", torch.nn.ReLU()));
        layers.Add(("cut", torch.nn.Linear(hidden, output)));
        return torch.nn.Sequential(layers.ToArray());
    }

    /// <summary>ReLU -> Linear(inputs, hidden) -> ReLU -> Linear(hidden, 1).</summary>
    public static torch.nn.Module<Tensor, Tensor> Head(int inputs, int hidden) => torch.nn.Sequential(
        ("relu0", torch.nn.ReLU()), ("fc1", torch.nn.Linear(inputs, hidden)), ("relu1", torch.nn.ReLU()), ("out", torch.nn.Linear(hidden, 1)));

    public static Tensor Matrix(IReadOnlyList<float[]> rows)
    {
        var width = rows.Count == 0 ? 0 : rows[0].Length;
        var flat = new float[rows.Count * width];
        for (var i = 0; i < rows.Count; i++) rows[i].CopyTo(flat, i * width);
        return torch.tensor(flat, [rows.Count, width]);
    }

    public static float[] Values(Tensor t)
    {
        using var c = t.detach().contiguous();
        using var data = c.data<float>();
        return data.ToArray();
    }

    /// <summary>Checks a message against the declared cut width; returns its activations and labels.</summary>
    public static (float[] Activations, float[]? Labels) Receive(CutBatch batch, int cutWidth, bool needLabels)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.RowIds is null || batch.Activations is null) throw new ArgumentException("a cut batch needs ids and activations", nameof(batch));
        if (batch.Count == 0) throw new ArgumentException("an empty cut batch", nameof(batch));
        if (batch.Activations.Length != batch.Count * cutWidth)
            throw new ArgumentException($"{batch.Activations.Length} activations for {batch.Count} rows of cut width {cutWidth}", nameof(batch));
        if (needLabels && (batch.Labels is null || batch.Labels.Length != batch.Count))
            throw new ArgumentException("a training batch needs one label per row", nameof(batch));
        if (batch.Activations.Any(v => !float.IsFinite(v))) throw new ArgumentException("non-finite activations", nameof(batch));
        return (batch.Activations, batch.Labels);
    }
}

/// <summary>Copies of a module's parameters as arrays, and back.</summary>
internal static class Weights
{
    public static List<float[]> Snapshot(torch.nn.Module module)
    {
        var result = new List<float[]>();
        foreach (var p in module.parameters()) result.Add(Nets.Values(p));
        return result;
    }

    public static void Restore(torch.nn.Module module, List<float[]> weights)
    {
        using var noGrad = torch.no_grad();
        var k = 0;
        foreach (var p in module.parameters())
        {
            using var source = torch.tensor(weights[k++], p.shape);
            p.copy_(source);
        }
        if (k != weights.Count) throw new InvalidOperationException($"{weights.Count} weight arrays for {k} parameters");
    }
}
