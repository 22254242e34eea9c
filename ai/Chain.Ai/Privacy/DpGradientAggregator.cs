using TorchSharp;
using static TorchSharp.torch;

namespace Chain.Ai.Privacy;

/// <summary>
/// The privatising core of one DP-SGD step, over a fixed list of parameter shapes: <see cref="Add"/> clips one example's
/// full gradient (all parameters together) to L2 norm C and adds it to a running sum; <see cref="Release"/> adds
/// N(0, sigma² C²) noise per coordinate from its own seeded generator, divides by the expected batch size B and
/// resets the sum. Each example therefore moves the released gradient by at most C/B before noise.
/// </summary>
public sealed class DpGradientAggregator : IDisposable
{
    private readonly Tensor[] _sums;
    private readonly Generator _noise;
    private bool _disposed;

    /// <param name="shapes">The parameter shapes, in the order gradients will be given.</param>
    /// <param name="maxGradNorm">C, &gt; 0.</param>
    /// <param name="noiseMultiplier">sigma, ≥ 0 (0: clip only).</param>
    /// <param name="expectedBatchSize">B, ≥ 1.</param>
    /// <param name="noiseSeed">Seeds the noise generator (independent of libtorch's global one).</param>
    /// <param name="dtype">The gradients' element type (float32 by default).</param>
    public DpGradientAggregator(IReadOnlyList<long[]> shapes, double maxGradNorm, double noiseMultiplier, int expectedBatchSize,
        ulong noiseSeed, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        if (shapes.Count == 0) throw new ArgumentException("at least one parameter shape is needed", nameof(shapes));
        if (!(double.IsFinite(maxGradNorm) && maxGradNorm > 0))
            throw new ArgumentOutOfRangeException(nameof(maxGradNorm), maxGradNorm, "the clipping norm C must be a finite number > 0");
        if (!(double.IsFinite(noiseMultiplier) && noiseMultiplier >= 0))
            throw new ArgumentOutOfRangeException(nameof(noiseMultiplier), noiseMultiplier, "the noise multiplier must be a finite number >= 0");
        if (expectedBatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(expectedBatchSize), expectedBatchSize, "the expected batch size must be >= 1");
        MaxGradNorm = maxGradNorm;
        NoiseMultiplier = noiseMultiplier;
        ExpectedBatchSize = expectedBatchSize;
        _sums = [.. shapes.Select(s => zeros(s, dtype).DetachFromDisposeScope())];
        _noise = new Generator(noiseSeed);
    }

    public double MaxGradNorm { get; }
    public double NoiseMultiplier { get; }
    public int ExpectedBatchSize { get; }

    /// <summary>Examples added since the last <see cref="Release"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Of those, how many had a norm above C and were scaled down.</summary>
    public int Clipped { get; private set; }

    /// <summary>
    /// Adds one example's gradient (one tensor per parameter; null for a parameter it does not touch), scaled by
    /// min(1, C / (‖g‖ + 1e-6)) as Opacus does. Returns the example's norm before clipping.
    /// </summary>
    public double Add(IReadOnlyList<Tensor?> gradients)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(gradients);
        if (gradients.Count != _sums.Length)
            throw new ArgumentException($"{gradients.Count} gradients for {_sums.Length} parameters", nameof(gradients));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var parts = new List<Tensor>(_sums.Length);
        for (var p = 0; p < _sums.Length; p++)
        {
            var g = gradients[p];
            if (g is null) continue;
            if (!g.shape.SequenceEqual(_sums[p].shape))
            {
                throw new ArgumentException(
                    $"gradient {p} has shape [{string.Join(", ", g.shape)}], the parameter [{string.Join(", ", _sums[p].shape)}]",
                    nameof(gradients));
            }
            parts.Add(g.square().sum());
        }
        // One synchronisation per example: the parameters' squared norms, added in double precision.
        var norm = parts.Count == 0 ? 0 : Math.Sqrt(stack(parts).to_type(ScalarType.Float64).sum().ToDouble());
        if (!double.IsFinite(norm)) throw new ArgumentException($"an example's gradient norm is {norm}", nameof(gradients));
        var factor = Math.Min(1.0, MaxGradNorm / (norm + 1e-6));
        if (factor < 1) Clipped++;
        for (var p = 0; p < _sums.Length; p++)
        {
            if (gradients[p] is { } g) _sums[p].add_(g, alpha: factor);
        }
        Count++;
        return norm;
    }

    /// <summary>
    /// Writes (sum + N(0, sigma² C²)) / B into <paramref name="into"/> (one tensor per parameter, same shapes; e.g. the
    /// parameters' .grad tensors) and resets the sum. Noise is added even when no example was sampled.
    /// </summary>
    public void Release(IReadOnlyList<Tensor> into)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(into);
        if (into.Count != _sums.Length) throw new ArgumentException($"{into.Count} targets for {_sums.Length} parameters", nameof(into));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var std = NoiseMultiplier * MaxGradNorm;
        for (var p = 0; p < _sums.Length; p++)
        {
            if (std > 0)
            {
                var noise = randn(_sums[p].shape, dtype: _sums[p].dtype, generator: _noise);
                _sums[p].add_(noise, alpha: std);
            }
            into[p].copy_(_sums[p].div(ExpectedBatchSize));
            _sums[p].zero_();
        }
        Count = 0;
        Clipped = 0;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var s in _sums) s.Dispose();
        _noise.Dispose();
    }
}
