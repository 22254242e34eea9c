using BenchmarkDotNet.Attributes;
using Chain.Accel;
using Chain.Accel.Offload;
using Chain.Accel.OpenCL;

namespace Chain.Benchmarks;

/// <summary>
/// The OpenCL accelerator (<see cref="OpenClAccelerator"/>, on the machine's first OpenCL device: PoCL on the CPU
/// here) next to the CPU reference and the multi-core backend, called directly (no cross-checking wrapper).
/// <list type="bullet">
/// <item><see cref="Sha256_16x1MiB"/>: one batch of 16 messages of 1 MiB: <b>GB/s = 16 × 1,048,576 / Mean(ns)</b>.</item>
/// <item><see cref="Sha256_10000x256B"/>: one batch of 10,000 messages of 256 bytes (tagged, as transaction ids are):
/// <b>hashes/s = 10,000 × 1e9 / Mean(ns)</b>.</item>
/// <item><see cref="MerkleRoot_100000"/>: the root over 100,000 leaves, level by level through
/// <see cref="IAccelerator.MerkleLevel"/> (99,999 inner hashes of 65 bytes): <b>inner hashes/s = 99,999 × 1e9 /
/// Mean(ns)</b>.</item>
/// </list>
/// The OpenCL times include packing the batch into device memory and reading the digests back. Run:
/// <c>dotnet run -c Release --project tests/Chain.Benchmarks -- --filter '*OpenCl*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class OpenClBenchmarks
{
    private IAccelerator _accelerator = null!;
    private ReadOnlyMemory<byte>[] _large = [];
    private ReadOnlyMemory<byte>[] _small = [];
    private Hash32[] _digests = [];
    private Hash32[] _leaves = [];
    private Hash32[] _levelA = [];
    private Hash32[] _levelB = [];

    [Params(OpenClAccelerator.BackendName, CpuAccelerator.BackendName, ParallelCpuAccelerator.BackendName)]
    public string Backend { get; set; } = OpenClAccelerator.BackendName;

    [GlobalSetup]
    public void Setup()
    {
        _accelerator = Backend switch
        {
            OpenClAccelerator.BackendName => new OpenClAccelerator(),
            CpuAccelerator.BackendName => CpuAccelerator.Instance,
            _ => new ParallelCpuAccelerator(),
        };
        var random = new Random(42);
        _large = Enumerable.Range(0, 16).Select(_ => Bytes(random, 1 << 20)).ToArray();
        _small = Enumerable.Range(0, 10_000).Select(_ => Bytes(random, 256)).ToArray();
        _digests = new Hash32[_small.Length];
        _leaves = Enumerable.Range(0, 100_000).Select(i => Hash32.Sha256(BitConverter.GetBytes(i))).ToArray();
        _levelA = new Hash32[(_leaves.Length + 1) / 2];
        _levelB = new Hash32[(_leaves.Length + 3) / 4];
        Console.WriteLine($"// {Backend}: {_accelerator.Capabilities.Device}");
    }

    [GlobalCleanup]
    public void Cleanup() => _accelerator.Dispose();

    [Benchmark]
    public Hash32 Sha256_16x1MiB()
    {
        _accelerator.Sha256(_large, _digests.AsSpan(0, _large.Length));
        return _digests[0];
    }

    [Benchmark]
    public Hash32 Sha256_10000x256B()
    {
        _accelerator.Sha256(_small, _digests, tag: 0x54);
        return _digests[0];
    }

    [Benchmark]
    public Hash32 MerkleRoot_100000()
    {
        var (from, to) = (_leaves, _levelA);
        var count = _leaves.Length;
        while (count > 1)
        {
            count = _accelerator.MerkleLevel(1, from.AsSpan(0, count), to);
            from = to;
            to = ReferenceEquals(to, _levelA) ? _levelB : _levelA;
        }
        return from[0];
    }

    private static ReadOnlyMemory<byte> Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
