using BenchmarkDotNet.Attributes;
using Chain.Ai.Federated;

namespace Chain.Benchmarks;

/// <summary>
/// One round of secure aggregation (Bonawitz et al. 2017) for 10 clients × 100,000 parameters, in-process with every
/// message serialised, all clients and the server on one thread (so the time is the sum of all parties' compute), against
/// plain summation of the same float vectors; with no dropout and with 2 clients dropping after sharing their keys
/// (the server then rebuilds their mask keys and removes 2 × 8 pairwise masks). Also one mask expansion (AES-256-CTR).
/// </summary>
[MemoryDiagnoser]
public class SecureAggregationBenchmarks
{
    private const int Clients = 10;
    private const int Parameters = 100_000;
    private float[][] _inputs = null!;
    private HashSet<int> _drop = null!;
    private readonly HashSet<int> _none = [];
    private readonly byte[] _key = new byte[32];

    /// <summary>Clients that drop after round 1 (before masking).</summary>
    [Params(0, 2)]
    public int Dropouts { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _inputs = [.. Enumerable.Range(0, Clients).Select(_ => Enumerable.Range(0, Parameters).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray())];
        _drop = [.. Enumerable.Range(0, Dropouts).Select(i => 3 + 4 * i)];
        random.NextBytes(_key);
    }

    [Benchmark(Baseline = true)]
    public float[] PlainSum()
    {
        var sum = new float[Parameters];
        for (var c = 0; c < Clients; c++)
        {
            if (_drop.Contains(c)) continue;
            var x = _inputs[c];
            for (var j = 0; j < Parameters; j++) sum[j] += x[j];
        }
        return sum;
    }

    [Benchmark]
    public float[] SecureAggregationRound() => SecureAggregation.Simulate(_inputs, 6, _drop, _none, seed: 7).Sum;

    [Benchmark]
    public uint[] OneMaskExpansion() => MaskPrg.Expand(_key, Parameters);
}
