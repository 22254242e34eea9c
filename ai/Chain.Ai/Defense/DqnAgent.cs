using System.Text;
using Chain.Ai.Torch;
using TorchSharp;
using static TorchSharp.torch;
using Linear = TorchSharp.Modules.Linear;
using Parameter = TorchSharp.Modules.Parameter;

namespace Chain.Ai.Defense;

/// <summary>DQN hyper-parameters. Defaults suit the default <see cref="DefenseOptions"/> (400-step episodes).</summary>
public sealed record DqnOptions
{
    /// <summary>Hidden layer widths of the Q-network (ReLU between layers).</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [64, 64];

    public double LearningRate { get; init; } = 1e-3;
    public float Gamma { get; init; } = 0.95f;
    public int BatchSize { get; init; } = 64;
    public int ReplayCapacity { get; init; } = 50_000;

    /// <summary>Transitions collected (acting at epsilon) before the first gradient step.</summary>
    public int WarmupTransitions { get; init; } = 1_000;

    /// <summary>One gradient step every this many environment steps.</summary>
    public int TrainEvery { get; init; } = 1;

    /// <summary>The target network is synced to the online network every this many gradient steps.</summary>
    public int TargetSyncSteps { get; init; } = 250;

    public float EpsilonStart { get; init; } = 1f;
    public float EpsilonEnd { get; init; } = 0.05f;

    /// <summary>Environment steps over which epsilon falls linearly from start to end.</summary>
    public int EpsilonDecaySteps { get; init; } = 10_000;

    public double MaxGradNorm { get; init; } = 10;

    /// <summary>Double DQN targets: the online network picks the next action, the target network values it.</summary>
    public bool Double { get; init; } = true;

    /// <summary>Seeds the network initialisation (libtorch's generator), exploration and replay sampling.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// libtorch intra-op threads while training (restored after); 0 leaves the setting alone. One thread is fastest for
    /// these small networks, and avoids threads waiting on each other on a busy machine.
    /// </summary>
    public int TrainingThreads { get; init; } = 1;

    /// <summary>Training episode k is run with environment seed <c>EpisodeSeed + k</c>.</summary>
    public int EpisodeSeed { get; init; }

    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Hidden, nameof(Hidden));
        if (Hidden.Count == 0 || Hidden.Any(h => h < 1 || h > 4096))
            throw new ArgumentOutOfRangeException(nameof(Hidden), "hidden widths must be 1..4096, at least one layer");
        if (!double.IsFinite(LearningRate) || LearningRate <= 0) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be > 0");
        if (!float.IsFinite(Gamma) || Gamma < 0 || Gamma >= 1) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "must be in [0, 1)");
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReplayCapacity, BatchSize, nameof(ReplayCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(WarmupTransitions, BatchSize, nameof(WarmupTransitions));
        ArgumentOutOfRangeException.ThrowIfLessThan(TrainEvery, 1, nameof(TrainEvery));
        ArgumentOutOfRangeException.ThrowIfLessThan(TargetSyncSteps, 1, nameof(TargetSyncSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(EpsilonDecaySteps, 1, nameof(EpsilonDecaySteps));
        if (!(EpsilonStart is >= 0 and <= 1) || !(EpsilonEnd is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(EpsilonStart), "epsilons must be in [0, 1]");
        if (!double.IsFinite(MaxGradNorm) || MaxGradNorm <= 0) throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), MaxGradNorm, "must be > 0");
        ArgumentOutOfRangeException.ThrowIfNegative(TrainingThreads, nameof(TrainingThreads));
    }
}

/// <summary>One training episode, as reported to progress.</summary>
public readonly record struct DqnEpisode(int Episode, float Return, float Epsilon, long Steps);

/// <summary>
/// A deep Q-network responder: an MLP from the environment state to one Q-value per <see cref="DefenseAction"/>, trained
/// with experience replay, a target network synced every <see cref="DqnOptions.TargetSyncSteps"/> gradient steps,
/// epsilon-greedy exploration with linear decay, the Huber loss and Adam. Episode ends are time limits, not terminal
/// states, so every transition bootstraps. <see cref="Decide(ReadOnlySpan{float})"/> is greedy and runs on a managed copy
/// of the weights (no libtorch call, no allocation); it is not thread-safe.
/// </summary>
public sealed class DqnAgent : IDefensePolicy, IDisposable
{
    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("CHAINDQN");
    private const int FormatVersion = 1;

    private readonly Linear[] _online;
    private readonly Linear[] _target;
    private readonly int[] _sizes;
    private float[][] _weights = [];
    private float[][] _biases = [];
    private readonly float[][] _activations;
    private bool _disposed;

    public DqnAgent(int stateWidth, DqnOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stateWidth, 1);
        Options = options ?? new DqnOptions();
        Options.Validate();
        TorchRuntime.EnsureLoaded();
        StateWidth = stateWidth;
        _sizes = [stateWidth, .. Options.Hidden, DefenseEnvironment.ActionCount];
        torch.manual_seed(Options.Seed);
        _online = Layers(_sizes);
        _target = Layers(_sizes);
        foreach (var p in _target.SelectMany(l => l.parameters())) p.requires_grad_(false);
        SyncTarget();
        _activations = [.. _sizes.Skip(1).Select(n => new float[n])];
        Snapshot();
    }

    public DqnOptions Options { get; }

    public int StateWidth { get; }

    /// <summary>Gradient steps taken so far.</summary>
    public long GradientSteps { get; private set; }

    /// <summary>
    /// Trains for <paramref name="episodes"/> episodes (environment seeds <see cref="DqnOptions.EpisodeSeed"/> + k) and
    /// returns the learning curve: each episode's total reward (under exploration).
    /// </summary>
    public IReadOnlyList<float> Train(DefenseEnvironment env, int episodes, IProgress<DqnEpisode>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(env);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(episodes, 1);
        if (env.StateWidth != StateWidth)
            throw new ArgumentException($"the environment's states have {env.StateWidth} values, the agent takes {StateWidth}", nameof(env));
        var threads = torch.get_num_threads();
        if (Options.TrainingThreads > 0) torch.set_num_threads(Options.TrainingThreads);
        try
        {
            return TrainEpisodes(env, episodes, progress);
        }
        finally
        {
            if (Options.TrainingThreads > 0) torch.set_num_threads(threads);
            Snapshot();
        }
    }

    private List<float> TrainEpisodes(DefenseEnvironment env, int episodes, IProgress<DqnEpisode>? progress)
    {
        var o = Options;
        var buffer = new ReplayBuffer(o.ReplayCapacity, StateWidth, unchecked(o.Seed * 7 + 1));
        var explore = new Random(o.Seed);
        var parameters = _online.SelectMany(l => l.parameters()).ToArray();
        using var optimizer = optim.Adam(parameters, lr: o.LearningRate);
        var batch = new Batch(o.BatchSize, StateWidth);
        var curve = new List<float>(episodes);
        long steps = 0;
        var epsilon = o.EpsilonStart;
        for (var episode = 0; episode < episodes; episode++)
        {
            var state = env.Reset(unchecked(o.EpisodeSeed + episode));
            float total = 0;
            while (true)
            {
                epsilon = o.EpsilonStart + (o.EpsilonEnd - o.EpsilonStart) * Math.Min(1f, steps / (float)o.EpsilonDecaySteps);
                var action = explore.NextDouble() < epsilon
                    ? explore.Next(DefenseEnvironment.ActionCount)
                    : (int)Decide(state);
                var result = env.Step((DefenseAction)action);
                buffer.Add(state, action, result.Reward, result.State, terminal: false);
                total += result.Reward;
                state = result.State;
                steps++;
                if (buffer.Count >= o.WarmupTransitions && steps % o.TrainEvery == 0)
                {
                    Learn(buffer, batch, optimizer, parameters);
                    if (GradientSteps % o.TargetSyncSteps == 0) SyncTarget();
                    // The greedy choice while exploring uses the managed copy, refreshed every few gradient steps.
                    if (GradientSteps % 16 == 0) Snapshot();
                }
                if (result.Done) break;
            }
            curve.Add(total);
            progress?.Report(new DqnEpisode(episode, total, epsilon, steps));
        }
        return curve;
    }

    /// <summary>The greedy action for <paramref name="state"/> (managed forward pass over a copy of the weights).</summary>
    public DefenseAction Decide(ReadOnlySpan<float> state)
    {
        if (state.Length != StateWidth) throw new ArgumentException($"the state has {state.Length} values, the agent takes {StateWidth}", nameof(state));
        var input = state;
        for (var l = 0; l < _weights.Length; l++)
        {
            var w = _weights[l];
            var b = _biases[l];
            var output = _activations[l];
            var width = input.Length;
            var relu = l < _weights.Length - 1;
            for (var j = 0; j < output.Length; j++)
            {
                var row = w.AsSpan(j * width, width);
                var sum = b[j];
                for (var k = 0; k < width; k++) sum += row[k] * input[k];
                output[j] = relu && sum < 0 ? 0 : sum;
            }
            input = output;
        }
        var best = 0;
        for (var a = 1; a < input.Length; a++)
        {
            if (input[a] > input[best]) best = a;
        }
        return (DefenseAction)best;
    }

    public DefenseAction Decide(ReadOnlySpan<float> state, in StepContext context) => Decide(state);

    /// <summary>The Q-values for <paramref name="state"/> (managed forward pass).</summary>
    public float[] QValues(ReadOnlySpan<float> state)
    {
        Decide(state);
        return [.. _activations[^1]];
    }

    /// <summary>Writes the weights to <paramref name="path"/> (the same weights give the same bytes).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new MemoryStream();
        Save(stream);
        File.WriteAllBytes(path, stream.ToArray());
    }

    /// <summary>
    /// Format: "CHAINDQN", int32 version (1), int32 layer-size count n, n int32 sizes (state width, hidden..., actions),
    /// then per layer its weight (out x in, row-major) and bias as little-endian float32.
    /// </summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var w = new BinaryWriter(stream, Encoding.ASCII, leaveOpen: true);
        w.Write(Magic);
        w.Write(FormatVersion);
        w.Write(_sizes.Length);
        foreach (var s in _sizes) w.Write(s);
        for (var l = 0; l < _weights.Length; l++)
        {
            foreach (var v in _weights[l]) w.Write(v);
            foreach (var v in _biases[l]) w.Write(v);
        }
    }

    public static DqnAgent Load(string path, DqnOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such weights file", path);
        using var stream = File.OpenRead(path);
        return Load(stream, options, path);
    }

    /// <summary>Reads weights written by <see cref="Save(Stream)"/>; <paramref name="options"/> apply to further training.</summary>
    public static DqnAgent Load(Stream stream, DqnOptions? options = null, string name = "weights")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var r = new BinaryReader(stream, Encoding.ASCII, leaveOpen: true);
        try
        {
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{name}: not a DQN weights file");
            var version = r.ReadInt32();
            if (version != FormatVersion) throw new InvalidDataException($"{name}: format version {version}, expected {FormatVersion}");
            var n = r.ReadInt32();
            if (n < 3 || n > 64) throw new InvalidDataException($"{name}: {n} layer sizes");
            var sizes = new int[n];
            for (var i = 0; i < n; i++)
            {
                sizes[i] = r.ReadInt32();
                if (sizes[i] < 1 || sizes[i] > 1 << 16) throw new InvalidDataException($"{name}: layer size {sizes[i]}");
            }
            if (sizes[^1] != DefenseEnvironment.ActionCount)
                throw new InvalidDataException($"{name}: {sizes[^1]} outputs, expected {DefenseEnvironment.ActionCount}");
            var weights = new float[n - 1][];
            var biases = new float[n - 1][];
            for (var l = 0; l < n - 1; l++)
            {
                weights[l] = ReadFloats(r, sizes[l] * sizes[l + 1], name);
                biases[l] = ReadFloats(r, sizes[l + 1], name);
            }
            if (stream.CanSeek && stream.Position != stream.Length) throw new InvalidDataException($"{name}: trailing bytes after the weights");
            var agent = new DqnAgent(sizes[0], (options ?? new DqnOptions()) with { Hidden = sizes[1..^1] });
            agent.SetWeights(weights, biases);
            return agent;
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{name}: the file ends early");
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var l in _online.Concat(_target)) l.Dispose();
    }

    private static float[] ReadFloats(BinaryReader r, int count, string name)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = r.ReadSingle();
            if (!float.IsFinite(values[i])) throw new InvalidDataException($"{name}: a weight is not finite");
        }
        return values;
    }

    private static Linear[] Layers(int[] sizes) =>
        [.. Enumerable.Range(0, sizes.Length - 1).Select(i => nn.Linear(sizes[i], sizes[i + 1]))];

    private static Tensor Forward(Linear[] layers, Tensor x)
    {
        for (var i = 0; i < layers.Length; i++)
        {
            x = layers[i].forward(x);
            if (i < layers.Length - 1) x = nn.functional.relu(x);
        }
        return x;
    }

    private void Learn(ReplayBuffer buffer, Batch b, optim.Optimizer optimizer, Parameter[] parameters)
    {
        var o = Options;
        buffer.Sample(o.BatchSize, b.States, b.Actions, b.Rewards, b.Next, b.NotTerminal);
        using var scope = NewDisposeScope();
        var states = tensor(b.States, new long[] { o.BatchSize, StateWidth });
        var actions = tensor(b.Actions, new long[] { o.BatchSize, 1 });
        var q = Forward(_online, states).gather(1, actions).squeeze(1);
        Tensor target;
        using (no_grad())
        {
            var nextStates = tensor(b.Next, new long[] { o.BatchSize, StateWidth });
            var next = Forward(_target, nextStates);
            var best = o.Double
                ? next.gather(1, Forward(_online, nextStates).argmax(1, keepdim: true)).squeeze(1)
                : next.max(1).values;
            target = tensor(b.Rewards) + tensor(b.NotTerminal) * best * o.Gamma;
        }
        var loss = nn.functional.smooth_l1_loss(q, target);
        optimizer.zero_grad();
        loss.backward();
        nn.utils.clip_grad_norm_(parameters, o.MaxGradNorm);
        optimizer.step();
        GradientSteps++;
    }

    private void SyncTarget()
    {
        using var noGrad = no_grad();
        for (var i = 0; i < _online.Length; i++)
        {
            _target[i].weight!.copy_(_online[i].weight!);
            _target[i].bias!.copy_(_online[i].bias!);
        }
    }

    private void SetWeights(float[][] weights, float[][] biases)
    {
        using (no_grad())
        {
            for (var l = 0; l < _online.Length; l++)
            {
                using var w = tensor(weights[l], new long[] { _sizes[l + 1], _sizes[l] });
                using var b = tensor(biases[l], new long[] { _sizes[l + 1] });
                _online[l].weight!.copy_(w);
                _online[l].bias!.copy_(b);
            }
        }
        SyncTarget();
        Snapshot();
    }

    /// <summary>Copies the online network's weights into the managed arrays <see cref="Decide(ReadOnlySpan{float})"/> uses.</summary>
    private void Snapshot()
    {
        _weights = [.. _online.Select(l => l.weight!.data<float>().ToArray())];
        _biases = [.. _online.Select(l => l.bias!.data<float>().ToArray())];
    }

    private sealed class Batch(int size, int width)
    {
        public float[] States { get; } = new float[size * width];
        public long[] Actions { get; } = new long[size];
        public float[] Rewards { get; } = new float[size];
        public float[] Next { get; } = new float[size * width];
        public float[] NotTerminal { get; } = new float[size];
    }
}
