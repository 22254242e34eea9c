using BenchmarkDotNet.Attributes;
using Chain.Chaincode.Custody;
using BigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Chain.Benchmarks;

/// <summary>Feldman VSS over secp256k1: split (deal), verify one share, refresh one share, reconstruct from t shares.</summary>
[MemoryDiagnoser]
public class CustodyBenchmarks
{
    private Dealing _dealing = null!;
    private Dealing _refresh = null!;
    private Func<BigInteger> _random = null!;

    /// <summary>Custodians; t = 2n/3 rounded up (at least 2).</summary>
    [Params(4, 7, 16)]
    public int N { get; set; }

    private int T => Math.Max(2, (2 * N + 2) / 3);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(99);
        _random = () =>
        {
            var bytes = new byte[31];
            rng.NextBytes(bytes);
            return new BigInteger(1, bytes).Add(BigInteger.One);
        };
        _dealing = Feldman.Deal(_random(), T, N, _random);
        _refresh = Feldman.DealRefresh(T, N, _random);
    }

    [Benchmark]
    public Dealing Split() => Feldman.Deal(_random(), T, N, _random);

    [Benchmark]
    public bool VerifyShare() => Feldman.Verify(_dealing.Shares[^1], _dealing.Commitments);

    [Benchmark]
    public Share RefreshShare() =>
        Feldman.Refresh(_dealing.Shares[0], _dealing.Commitments, _refresh.Shares[0], _refresh.Commitments).Share;

    [Benchmark]
    public BigInteger Reconstruct() => Feldman.Reconstruct([.. _dealing.Shares.Take(T)]);
}
