namespace Chain.Ai.Federated;

/// <summary>Refused compression input (non-finite values, a length that changed between rounds, a malformed update).</summary>
public sealed class CompressionException(string message) : Exception(message);

/// <summary>
/// A sparse update: <see cref="Length"/> coordinates of which only <see cref="Indices"/> (ascending) are non-zero.
/// Wire size (<see cref="ByteSize"/>): 4 bytes length + 4 bytes count + per kept coordinate a 4-byte int index and a
/// 4-byte float value, i.e. 8 + 8·k.
/// </summary>
public sealed record SparseUpdate(int Length, int[] Indices, float[] Values)
{
    public int Count => Indices.Length;

    public long ByteSize => 8 + 8L * Indices.Length;

    /// <summary>The dense vector (zeros outside the indices).</summary>
    public float[] ToDense()
    {
        if (Indices.Length != Values.Length)
            throw new CompressionException($"sparse update has {Indices.Length} indices but {Values.Length} values");
        var dense = new float[Length];
        for (var j = 0; j < Indices.Length; j++)
        {
            var i = Indices[j];
            if (i < 0 || i >= Length) throw new CompressionException($"index {i} out of range [0, {Length})");
            dense[i] = Values[j];
        }
        return dense;
    }
}

/// <summary>
/// Top-k sparsification with error feedback (Stich et al. 2018; Lin et al. 2018, Deep Gradient Compression). Each
/// round, the compressor adds the carried residual to the delta, sends the k largest-magnitude coordinates of the sum
/// (ties: lower index first) and keeps the rest as the residual for the next round, so nothing is lost, only delayed:
/// Σ sent = Σ deltas − final residual (up to float rounding of the additions). One instance per client.
/// k = ⌈(1 − sparsity)·length⌉ (computed with a 1e-6 slack so that float error in 1 − sparsity cannot add a coordinate:
/// 99% of 1000 keeps exactly 10), at least 1; sparsity in [0, 1).
/// </summary>
public sealed class TopKCompressor
{
    private float[]? _residual;

    public TopKCompressor(double sparsity)
    {
        if (!(sparsity >= 0 && sparsity < 1))
            throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "sparsity must be in [0, 1)");
        Sparsity = sparsity;
    }

    public double Sparsity { get; }

    /// <summary>The residual carried to the next round (a copy; zeros before the first round).</summary>
    public float[] Residual => _residual is null ? [] : (float[])_residual.Clone();

    /// <summary>Coordinates kept for a vector of this length.</summary>
    public int Kept(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be >= 1");
        var k = (int)Math.Ceiling((1 - Sparsity) * length - 1e-6);
        return Math.Clamp(k, 1, length);
    }

    /// <summary>Compresses one round's delta (plus the residual) and updates the residual.</summary>
    public SparseUpdate Compress(ReadOnlySpan<float> delta)
    {
        if (delta.Length == 0) throw new CompressionException("empty delta");
        for (var i = 0; i < delta.Length; i++)
            if (!float.IsFinite(delta[i])) throw new CompressionException($"non-finite value ({delta[i]}) at coordinate {i}");
        _residual ??= new float[delta.Length];
        if (_residual.Length != delta.Length)
            throw new CompressionException($"delta has {delta.Length} values, earlier rounds had {_residual.Length}");

        var acc = new float[delta.Length];
        for (var i = 0; i < acc.Length; i++) acc[i] = delta[i] + _residual[i];
        var k = Kept(acc.Length);
        var order = new int[acc.Length];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            var c = Math.Abs(acc[b]).CompareTo(Math.Abs(acc[a]));
            return c != 0 ? c : a.CompareTo(b);
        });
        var indices = order[..k];
        Array.Sort(indices);
        var values = new float[k];
        for (var j = 0; j < k; j++)
        {
            values[j] = acc[indices[j]];
            acc[indices[j]] = 0;
        }
        _residual = acc;
        return new SparseUpdate(delta.Length, indices, values);
    }

    /// <summary>Forgets the residual.</summary>
    public void Reset() => _residual = null;
}

/// <summary>
/// An 8-bit quantised vector: value ≈ <see cref="Min"/> + code·<see cref="Step"/>. Wire size (<see cref="ByteSize"/>):
/// 4 bytes length + 4 bytes min + 4 bytes step + one byte per coordinate, i.e. 12 + length.
/// </summary>
public sealed record QuantizedUpdate(int Length, float Min, float Step, byte[] Codes)
{
    public long ByteSize => 12 + (long)Codes.Length;
}

/// <summary>
/// 8-bit quantisation with a per-vector min/max: step = (max − min)/255, codes 0..255. Stochastic rounding (default,
/// seeded) rounds up with probability equal to the fractional part, so the dequantised value is unbiased and within one
/// step of the original; nearest rounding is within half a step. A constant vector has step 0 and decodes exactly.
/// </summary>
public sealed class Quantizer8(int seed, bool stochastic = true)
{
    private readonly Random _random = new(seed);

    public bool Stochastic { get; } = stochastic;

    public QuantizedUpdate Quantize(ReadOnlySpan<float> values)
    {
        if (values.Length == 0) throw new CompressionException("empty vector");
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) throw new CompressionException($"non-finite value ({values[i]}) at coordinate {i}");
            min = Math.Min(min, values[i]);
            max = Math.Max(max, values[i]);
        }
        var step = (float)((max - min) / 255);
        if (!float.IsFinite(step)) throw new CompressionException($"range {min}..{max} too wide for a float step");
        var codes = new byte[values.Length];
        if (step > 0)
            for (var i = 0; i < values.Length; i++)
            {
                var x = (values[i] - min) / step;
                var lo = Math.Floor(x);
                var up = Stochastic ? _random.NextDouble() < x - lo : x - lo >= 0.5;
                codes[i] = (byte)Math.Clamp(lo + (up ? 1 : 0), 0, 255);
            }
        return new QuantizedUpdate(values.Length, (float)min, step, codes);
    }

    public static float[] Dequantize(QuantizedUpdate q)
    {
        ArgumentNullException.ThrowIfNull(q);
        if (q.Codes.Length != q.Length) throw new CompressionException($"{q.Codes.Length} codes for length {q.Length}");
        var result = new float[q.Length];
        for (var i = 0; i < result.Length; i++) result[i] = (float)(q.Min + (double)q.Codes[i] * q.Step);
        return result;
    }
}
