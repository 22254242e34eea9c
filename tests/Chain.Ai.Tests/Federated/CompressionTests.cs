using Chain.Ai.Federated;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// Top-k sparsification with error feedback (exact kept counts, nothing lost over rounds, byte sizes) and the 8-bit
/// quantiser (error within one step, unbiased stochastic rounding, byte sizes). Seeds are printed.
/// </summary>
public sealed class CompressionTests(ITestOutputHelper output)
{
    private static float[] Vector(Random random, int length, double scale = 1) =>
        Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();

    [Theory]
    [InlineData(0.90, 1000, 100)]
    [InlineData(0.99, 1000, 10)]
    [InlineData(0.90, 12345, 1235)] // ceil(0.1·12345 = 1234.5)
    [InlineData(0.99, 12345, 124)]  // ceil(123.45)
    [InlineData(0.99, 50, 1)]       // ceil(0.5) = 1
    [InlineData(0.99, 100_000, 1000)]
    [InlineData(0.999, 10, 1)]      // never fewer than one
    [InlineData(0.0, 7, 7)]
    public void TopK_keeps_exactly_k(double sparsity, int length, int expected)
    {
        const int seed = 11;
        output.WriteLine($"seed {seed}");
        var compressor = new TopKCompressor(sparsity);
        Assert.Equal(expected, compressor.Kept(length));
        var sparse = compressor.Compress(Vector(new Random(seed), length));
        Assert.Equal(expected, sparse.Count);
        Assert.Equal(expected, sparse.Values.Length);
        Assert.Equal(length, sparse.Length);
        Assert.Equal(sparse.Indices.Distinct().Count(), sparse.Count);
        Assert.Equal(8 + 8L * expected, sparse.ByteSize);
    }

    // delta [0.5, -3, 1, 2, -0.1], sparsity 0.6 -> k = ceil(0.4·5) = 2: largest magnitudes -3 (index 1) and 2 (index 3).
    // Residual [0.5, 0, 1, 0, -0.1]. Round 2 with delta [0, 0, 0.5, 0, 0]: acc [0.5, 0, 1.5, 0, -0.1] -> sends
    // indices 0 and 2 with [0.5, 1.5]; residual [0, 0, 0, 0, -0.1].
    [Fact]
    public void TopK_hand_computed_with_error_feedback()
    {
        var compressor = new TopKCompressor(0.6);
        var first = compressor.Compress([0.5f, -3f, 1f, 2f, -0.1f]);
        Assert.Equal([1, 3], first.Indices);
        Assert.Equal([-3f, 2f], first.Values);
        Assert.Equal([0f, -3f, 0f, 2f, 0f], first.ToDense());
        Assert.Equal([0.5f, 0f, 1f, 0f, -0.1f], compressor.Residual);
        var second = compressor.Compress([0f, 0f, 0.5f, 0f, 0f]);
        Assert.Equal([0, 2], second.Indices);
        Assert.Equal([0.5f, 1.5f], second.Values);
        Assert.Equal([0f, 0f, 0f, 0f, -0.1f], compressor.Residual);
        Assert.Equal(8 + 16, second.ByteSize);
    }

    [Property(MaxTest = 50)]
    public Property Error_feedback_loses_nothing() => Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue - 1)), seed =>
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var length = random.Next(1, 300);
        var rounds = random.Next(1, 20);
        var compressor = new TopKCompressor(new[] { 0.5, 0.9, 0.99 }[random.Next(3)]);
        var sent = new double[length];
        var truth = new double[length];
        for (var r = 0; r < rounds; r++)
        {
            var delta = Vector(random, length);
            for (var i = 0; i < length; i++) truth[i] += delta[i];
            var sparse = compressor.Compress(delta);
            Assert.Equal(compressor.Kept(length), sparse.Count);
            var dense = sparse.ToDense();
            for (var i = 0; i < length; i++) sent[i] += dense[i];
        }
        var residual = compressor.Residual;
        for (var i = 0; i < length; i++)
            Assert.True(Math.Abs(sent[i] - (truth[i] - residual[i])) <= 1e-5 * rounds,
                $"seed {seed}: coordinate {i}: sent {sent[i]}, deltas − residual {truth[i] - residual[i]}");
    });

    [Fact]
    public void TopK_refuses_bad_input()
    {
        foreach (var bad in new[] { -0.1, 1.0, 1.5, double.NaN })
            Assert.Throws<ArgumentOutOfRangeException>(() => new TopKCompressor(bad));
        var compressor = new TopKCompressor(0.5);
        Assert.Throws<CompressionException>(() => compressor.Compress([1f, float.NaN]));
        Assert.Throws<CompressionException>(() => compressor.Compress([]));
        compressor.Compress([1f, 2f]);
        Assert.Throws<CompressionException>(() => compressor.Compress([1f, 2f, 3f]));
        compressor.Reset();
        Assert.Equal(3, compressor.Compress([1f, 2f, 3f]).Length);
        Assert.Throws<CompressionException>(() => new SparseUpdate(3, [5], [1f]).ToDense());
    }

    [Property(MaxTest = 50)]
    public Property Quantisation_error_within_one_step() => Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue - 1)), seed =>
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var length = random.Next(1, 500);
        var values = Vector(random, length, Math.Pow(10, random.Next(-3, 4)));
        foreach (var stochastic in new[] { true, false })
        {
            var q = new Quantizer8(seed, stochastic).Quantize(values);
            Assert.Equal(12 + length, q.ByteSize);
            Assert.Equal(values.Min(), q.Min);
            Assert.Equal(((double)values.Max() - values.Min()) / 255, q.Step, 1e-6 * Math.Max(1e-30, q.Step));
            var back = Quantizer8.Dequantize(q);
            var bound = (stochastic ? 1.0 : 0.5) * q.Step + 1e-6 * Math.Max(Math.Abs(values.Min()), Math.Abs(values.Max()));
            for (var i = 0; i < length; i++)
                Assert.True(Math.Abs(back[i] - values[i]) <= bound,
                    $"seed {seed}, stochastic {stochastic}: coordinate {i}: {values[i]} -> {back[i]}, step {q.Step}");
        }
    });

    // Values 0, 1, 0.25 (spread over 255 steps of 1/255): 0.25·255 = 63.75. Nearest rounding gives 0 -> 0, 1 -> 255,
    // and 63.75 -> 64. Stochastic rounding of 63.75 goes up 3/4 of the time, so the mean is near 63.75/255 = 0.25.
    [Fact]
    public void Quantiser_hand_computed_and_unbiased()
    {
        var q = new Quantizer8(0, stochastic: false).Quantize([0f, 1f, 0.25f]);
        Assert.Equal(0f, q.Min);
        Assert.Equal(1f / 255, q.Step, 1e-9);
        Assert.Equal(0, q.Codes[0]);
        Assert.Equal(255, q.Codes[1]);
        Assert.Equal(64, q.Codes[2]);
        Assert.Equal(15, q.ByteSize);

        double sum = 0;
        const int trials = 4000;
        var quantizer = new Quantizer8(42);
        for (var t = 0; t < trials; t++) sum += Quantizer8.Dequantize(quantizer.Quantize([0f, 1f, 0.25f]))[2];
        output.WriteLine($"seed 42: mean of {trials} stochastic roundings of 0.25 = {sum / trials}");
        Assert.Equal(0.25, sum / trials, 0.0005); // step 1/255; sd of the mean sqrt(0.75·0.25)/255/sqrt(4000) = 2.7e-5

        var a = new Quantizer8(7).Quantize([0f, 0.123f, 1f]);
        var b = new Quantizer8(7).Quantize([0f, 0.123f, 1f]);
        Assert.Equal(a.Codes, b.Codes); // seeded: reproducible

        var constant = new Quantizer8(1).Quantize([2.5f, 2.5f]);
        Assert.Equal(0f, constant.Step);
        Assert.Equal([2.5f, 2.5f], Quantizer8.Dequantize(constant));
        Assert.Throws<CompressionException>(() => new Quantizer8(1).Quantize([1f, float.PositiveInfinity]));
        Assert.Throws<CompressionException>(() => new Quantizer8(1).Quantize([]));
    }
}
