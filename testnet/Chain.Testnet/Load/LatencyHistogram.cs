namespace Chain.Testnet.Load;

/// <summary>
/// A lock-free latency histogram with logarithmic buckets 1% wide, from 1 microsecond to several minutes: bounded
/// memory however many samples, percentiles accurate to about 1%.
/// </summary>
internal sealed class LatencyHistogram
{
    private const double Growth = 1.01;
    private const int BucketCount = 2000;
    private static readonly double LogGrowth = Math.Log(Growth);

    private readonly long[] _counts = new long[BucketCount];
    private long _count;
    private long _maxMicros;
    private long _sumMicros;

    public long Count => Interlocked.Read(ref _count);

    public double MaxMs => Interlocked.Read(ref _maxMicros) / 1000.0;

    public double? MeanMs => Count == 0 ? null : Interlocked.Read(ref _sumMicros) / 1000.0 / Count;

    public void Record(TimeSpan latency)
    {
        var micros = Math.Max(1L, (long)latency.TotalMicroseconds);
        var bucket = Math.Min(BucketCount - 1, (int)(Math.Log(micros) / LogGrowth));
        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, micros);
        var max = Interlocked.Read(ref _maxMicros);
        while (micros > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxMicros, micros, max);
            if (seen == max) break;
            max = seen;
        }
    }

    /// <summary>The latency at or below which <paramref name="percent"/>% of the samples fall, in ms; null when empty.</summary>
    public double? PercentileMs(double percent)
    {
        var count = Count;
        if (count == 0) return null;
        var rank = Math.Max(1L, (long)Math.Ceiling(percent / 100.0 * count));
        long seen = 0;
        for (var bucket = 0; bucket < BucketCount; bucket++)
        {
            seen += Interlocked.Read(ref _counts[bucket]);
            if (seen >= rank) return Math.Min(Math.Pow(Growth, bucket + 1), Interlocked.Read(ref _maxMicros)) / 1000.0;
        }
        return MaxMs;
    }
}
