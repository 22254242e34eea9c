using System.Buffers;
using System.Security.Cryptography;

namespace Chain.Accel.Offload;

/// <summary>
/// The multi-core backend: each batch is cut into one contiguous range per worker and the ranges run on the thread
/// pool, each with the reference's primitives. Nothing is allocated per item (inputs that hold references are copied
/// into pooled arrays, outputs are written in place through pinned pointers). Small batches run inline on the
/// caller's thread, where splitting would cost more than it saves.
/// </summary>
public sealed unsafe class ParallelCpuAccelerator : IAccelerator
{
    public const string BackendName = "cpu-parallel";

    private readonly int _workers;
    private readonly ParallelOptions _options;

    /// <param name="workers">Threads to spread a batch over (default: every core).</param>
    /// <param name="minParallelItems">Batches of fewer items run inline (default 32).</param>
    public ParallelCpuAccelerator(int workers = 0, int minParallelItems = 32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        ArgumentOutOfRangeException.ThrowIfLessThan(minParallelItems, 1);
        _workers = workers == 0 ? Environment.ProcessorCount : workers;
        _options = new ParallelOptions { MaxDegreeOfParallelism = _workers };
        MinParallelItems = minParallelItems;
        Capabilities = new AcceleratorCapabilities(AccelOps.All, 1, 256 * _workers, $"{_workers} CPU threads");
    }

    public string Name => BackendName;

    public AcceleratorCapabilities Capabilities { get; }

    public int MinParallelItems { get; }

    public void Sha256(IReadOnlyList<ReadOnlyMemory<byte>> messages, Span<Hash32> digests, byte? tag = null)
    {
        AccelArgs.CheckSha256(messages, digests);
        var count = messages.Count;
        // A few large messages are worth splitting too (1 MiB each is ~0.5 ms).
        var parallel = count >= MinParallelItems || (count > 1 && TotalBytes(messages) >= 256 * 1024);
        if (!parallel)
        {
            for (var i = 0; i < count; i++) digests[i] = CpuAccelerator.HashOne(messages[i].Span, tag);
            return;
        }
        fixed (Hash32* output = digests)
        {
            var o = (nint)output;
            Run(count, (from, to) =>
            {
                var d = new Span<Hash32>((void*)o, count);
                for (var i = from; i < to; i++) d[i] = CpuAccelerator.HashOne(messages[i].Span, tag);
            });
        }
    }

    public int MerkleLevel(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next)
    {
        var count = AccelArgs.CheckMerkleLevel(level, next);
        var pairs = level.Length / 2;
        if (pairs < MinParallelItems)
        {
            CpuAccelerator.MerkleRange(tag, level, next, 0, pairs);
        }
        else
        {
            var length = level.Length;
            fixed (Hash32* input = level)
            fixed (Hash32* output = next)
            {
                var (i0, o0) = ((nint)input, (nint)output);
                Run(pairs, (from, to) =>
                    CpuAccelerator.MerkleRange(tag, new ReadOnlySpan<Hash32>((void*)i0, length), new Span<Hash32>((void*)o0, count), from, to));
            }
        }
        if ((level.Length & 1) == 1) next[count - 1] = level[^1];
        return count;
    }

    public void VerifyEd25519(ReadOnlySpan<SignatureCheck> checks, Span<bool> results)
    {
        AccelArgs.CheckVerify(checks, results);
        var count = checks.Length;
        if (count < Math.Min(MinParallelItems, 8) || _workers == 1)
        {
            for (var i = 0; i < count; i++) results[i] = CpuAccelerator.VerifyOne(checks[i]);
            return;
        }
        var copy = ArrayPool<SignatureCheck>.Shared.Rent(count);
        try
        {
            checks.CopyTo(copy);
            fixed (bool* output = results)
            {
                var o = (nint)output;
                Run(count, (from, to) =>
                {
                    var r = new Span<bool>((void*)o, count);
                    for (var i = from; i < to; i++) r[i] = CpuAccelerator.VerifyOne(copy[i]);
                });
            }
        }
        finally
        {
            ArrayPool<SignatureCheck>.Shared.Return(copy, clearArray: true);
        }
    }

    public void SealAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items)
    {
        AccelArgs.CheckAead(key, items);
        RunAead(key, items, default, seal: true);
    }

    public void OpenAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items, Span<bool> results)
    {
        AccelArgs.CheckAead(key, items);
        if (results.Length != items.Length) throw new ArgumentException("results must have one slot per item", nameof(results));
        RunAead(key, items, results, seal: false);
    }

    public void Dispose()
    {
    }

    private void RunAead(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items, Span<bool> results, bool seal)
    {
        var count = items.Length;
        if (count < 2 || _workers == 1)
        {
            using var aes = new AesGcm(key, AccelArgs.TagSize);
            for (var i = 0; i < count; i++)
            {
                if (seal) CpuAccelerator.SealOne(aes, items[i]);
                else results[i] = CpuAccelerator.OpenOne(aes, items[i]);
            }
            return;
        }
        var copy = ArrayPool<AeadItem>.Shared.Rent(count);
        var keyCopy = ArrayPool<byte>.Shared.Rent(AccelArgs.KeySize);
        try
        {
            items.CopyTo(copy);
            key.CopyTo(keyCopy);
            fixed (bool* output = results)
            {
                var o = (nint)output;
                Run(count, (from, to) =>
                {
                    using var aes = new AesGcm(keyCopy.AsSpan(0, AccelArgs.KeySize), AccelArgs.TagSize);
                    var r = seal ? default : new Span<bool>((void*)o, count);
                    for (var i = from; i < to; i++)
                    {
                        if (seal) CpuAccelerator.SealOne(aes, copy[i]);
                        else r[i] = CpuAccelerator.OpenOne(aes, copy[i]);
                    }
                });
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyCopy);
            ArrayPool<byte>.Shared.Return(keyCopy);
            ArrayPool<AeadItem>.Shared.Return(copy, clearArray: true);
        }
    }

    /// <summary>Runs [0, count) as one contiguous range per worker.</summary>
    private void Run(int count, Action<int, int> range)
    {
        var parts = Math.Min(_workers, count);
        if (parts <= 1)
        {
            range(0, count);
            return;
        }
        Parallel.For(0, parts, _options, p => range((int)((long)count * p / parts), (int)((long)count * (p + 1) / parts)));
    }

    private static long TotalBytes(IReadOnlyList<ReadOnlyMemory<byte>> messages)
    {
        long total = 0;
        for (var i = 0; i < messages.Count; i++) total += messages[i].Length;
        return total;
    }
}
