using BenchmarkDotNet.Attributes;
using Chain.Accel;
using Chain.Accel.Offload;

namespace Chain.Benchmarks;

/// <summary>
/// The accelerator contract on the CPU backends: <c>cpu</c> (the single-thread reference) and <c>cpu-parallel</c>
/// (every core; 2 here). Each benchmark is one batch; <c>OperationsPerInvoke</c> is the batch's item count, so Mean
/// is the time per item: hashes/s = 1e9 / Mean(ns), SHA-256 GB/s = 1 MiB / Mean, verifications/s = 1e9 / Mean.
/// <see cref="AesGcmSeal_1MiB"/> is bulk AES-256-GCM per 1 MiB chunk. <see cref="MerkleRoot100k"/> is one whole root of 100,000 leaves (level by level through MerkleLevel).
/// <see cref="Sha256Limit1MiB"/> is the platform's own one-shot SHA-256 on one core, the "single-core SHA limit" the
/// backends are compared with.
/// </summary>
[MemoryDiagnoser]
public class AccelBenchmarks
{
    private const int SmallCount = 10_000;
    private const int LargeCount = 16;
    private const int Leaves = 100_000;
    private const int Signatures = 2_000;

    private IAccelerator _backend = null!;
    private ReadOnlyMemory<byte>[] _small = null!;
    private ReadOnlyMemory<byte>[] _large = null!;
    private Hash32[] _digestsSmall = null!;
    private Hash32[] _digestsLarge = null!;
    private Hash32[] _leaves = null!;
    private Hash32[] _a = null!;
    private Hash32[] _b = null!;
    private SignatureCheck[] _checks = null!;
    private bool[] _results = null!;
    private AeadItem[] _aead = null!;
    private byte[] _aesKey = null!;

    [Params("cpu", "cpu-parallel")]
    public string Backend { get; set; } = "cpu";

    [GlobalSetup]
    public void Setup()
    {
        _backend = Backend == "cpu" ? CpuAccelerator.Instance : new ParallelCpuAccelerator();
        var rng = new Random(42);
        _small = [.. Enumerable.Range(0, SmallCount).Select(_ => Bytes(rng, 256))];
        _large = [.. Enumerable.Range(0, LargeCount).Select(_ => Bytes(rng, 1 << 20))];
        _digestsSmall = new Hash32[SmallCount];
        _digestsLarge = new Hash32[LargeCount];
        _leaves = [.. Enumerable.Range(0, Leaves).Select(i => Hashing.Sha256(BitConverter.GetBytes(i)))];
        _a = new Hash32[Leaves];
        _b = new Hash32[Leaves];
        using var key = SigningKey.FromSeed(new byte[32]);
        _checks = [.. Enumerable.Range(0, Signatures).Select(_ =>
        {
            var message = Bytes(rng, 200);
            return new SignatureCheck(key.PublicKey, message, key.Sign(message.Span));
        })];
        _results = new bool[Signatures];
        _aesKey = new byte[32];
        rng.NextBytes(_aesKey);
        _aead = [.. Enumerable.Range(0, LargeCount).Select(i =>
        {
            var nonce = new byte[12];
            nonce[0] = (byte)i;
            return new AeadItem(nonce, new byte[16], _large[i], new byte[1 << 20], new byte[16]);
        })];
    }

    private static ReadOnlyMemory<byte> Bytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    [Benchmark(OperationsPerInvoke = SmallCount)]
    public void Sha256_256B() => _backend.Sha256(_small, _digestsSmall);

    [Benchmark(OperationsPerInvoke = LargeCount)]
    public void Sha256_1MiB() => _backend.Sha256(_large, _digestsLarge);

    [Benchmark(OperationsPerInvoke = LargeCount)]
    public void Sha256Limit1MiB()
    {
        for (var i = 0; i < LargeCount; i++) _digestsLarge[i] = Hash32.FromBytes(System.Security.Cryptography.SHA256.HashData(_large[i].Span));
    }

    [Benchmark]
    public Hash32 MerkleRoot100k()
    {
        _leaves.CopyTo(_a, 0);
        var (level, next, count) = (_a, _b, Leaves);
        while (count > 1)
        {
            var written = _backend.MerkleLevel(0x01, level.AsSpan(0, count), next);
            (level, next, count) = (next, level, written);
        }
        return level[0];
    }

    [Benchmark(OperationsPerInvoke = Signatures)]
    public void Ed25519Verify() => _backend.VerifyEd25519(_checks, _results);

    /// <summary>AES-256-GCM of 16 chunks of 1 MiB: Mbps = 8 x 1,048,576 / Mean(µs).</summary>
    [Benchmark(OperationsPerInvoke = LargeCount)]
    public void AesGcmSeal_1MiB() => _backend.SealAesGcm(_aesKey, _aead);
}
