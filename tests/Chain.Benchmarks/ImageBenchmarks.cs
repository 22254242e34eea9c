using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Chain.Accel.Offload;
using Chain.Client.Imaging;

namespace Chain.Benchmarks;

/// <summary>
/// Medical-image encryption (Chain image format, chunked AES-256-GCM through the accelerator): encrypt and decrypt a
/// 256 MiB buffer between memory streams, 1 MiB chunks, 8 chunks per accelerator call. <c>cpu</c> is the reference
/// backend (AES-GCM on one core); <c>cpu-parallel</c> spreads each batch over every core. With <c>OverlapIo</c> the
/// reads and writes (here memory copies) run on another thread beside the cryptography; without it everything runs on
/// one thread, so cpu without OverlapIo is the one-core figure. The Mbps column is plaintext megabits per second.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class ImageBenchmarks
{
    public const int Size = 256 * 1024 * 1024;

    private byte[] _plain = [];
    private byte[] _sealed = [];
    private byte[] _output = [];
    private ImageKey _key = null!;
    private IAccelerator _accelerator = null!;
    private ImageCipher _cipher = null!;

    [Params(CpuAccelerator.BackendName, ParallelCpuAccelerator.BackendName)]
    public string Backend { get; set; } = CpuAccelerator.BackendName;

    [Params(false, true)]
    public bool OverlapIo { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _plain = new byte[Size];
        new Random(42).NextBytes(_plain);
        _key = ImageKey.Create();
        _accelerator = Backend == CpuAccelerator.BackendName ? CpuAccelerator.Instance : new ParallelCpuAccelerator();
        _cipher = new ImageCipher(_accelerator, overlapIo: OverlapIo);
        using var sealedStream = new MemoryStream();
        _cipher.Encrypt(new MemoryStream(_plain, writable: false), sealedStream, _key);
        _sealed = sealedStream.ToArray();
        _output = new byte[_sealed.Length];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _key.Dispose();
        _accelerator.Dispose();
    }

    [Benchmark]
    public long Encrypt()
    {
        using var output = new MemoryStream(_output, writable: true);
        return _cipher.Encrypt(new MemoryStream(_plain, writable: false), output, _key).Length;
    }

    [Benchmark]
    public long Decrypt()
    {
        using var output = new MemoryStream(_output, writable: true);
        return _cipher.Decrypt(new MemoryStream(_sealed, writable: false), output, _key).Length;
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new MegabitsColumn());
    }

    /// <summary>Plaintext megabits (10^6 bits) per second: 256 MiB × 8 / mean time.</summary>
    private sealed class MegabitsColumn : IColumn
    {
        public string Id => nameof(MegabitsColumn);
        public string ColumnName => "Mbps";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Plaintext megabits per second (256 MiB x 8 / mean)";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
            return mean is > 0 ? (Size * 8.0 / 1e6 / (mean.Value / 1e9)).ToString("N0", CultureInfo.InvariantCulture) : "-";
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
