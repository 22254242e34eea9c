using System.Security.Cryptography;

namespace Chain.Accel.Offload;

/// <summary>A backend caught giving a wrong result, or failing, and switched off.</summary>
/// <param name="Backend">The backend's name.</param>
/// <param name="Operation">The operation that went wrong.</param>
/// <param name="Detail">What differed from the reference, or the exception.</param>
public sealed record AcceleratorFault(string Backend, AccelOps Operation, string Detail);

/// <summary>How closely a non-reference backend is watched.</summary>
public sealed record CrossCheckPolicy
{
    /// <summary>The first this many offloaded batches are checked item by item against the reference.</summary>
    public int FullCheckBatches { get; init; } = 16;

    /// <summary>
    /// After that, one item in this many is recomputed on the reference (spread deterministically over the batches:
    /// a batch is checked as soon as it brings the running count to another multiple, so small batches are checked
    /// now and then and large ones several times). 1 checks everything.
    /// </summary>
    public int SampleOneIn { get; init; } = 64;

    /// <summary>Items checked in a batch that is sampled: the last item, then rotating ones.</summary>
    public int SampleItems { get; init; } = 2;

    public CrossCheckPolicy Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(FullCheckBatches);
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleOneIn, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleItems, 1);
        return this;
    }
}

/// <summary>Counters of one <see cref="CheckedAccelerator"/> (for metrics and status).</summary>
public sealed class AcceleratorStats
{
    internal long OffloadedBatches, OffloadedItems, CheckedItems, ReferenceBatches, Faults;

    public long BatchesOffloaded => Interlocked.Read(ref OffloadedBatches);
    public long ItemsOffloaded => Interlocked.Read(ref OffloadedItems);
    public long ItemsCrossChecked => Interlocked.Read(ref CheckedItems);
    public long BatchesOnReference => Interlocked.Read(ref ReferenceBatches);
    public long FaultCount => Interlocked.Read(ref Faults);
}

/// <summary>
/// Never trusts an accelerator blindly. Routes each batch to the backend when it supports the operation and the batch
/// is at least its <see cref="AcceleratorCapabilities.MinBatch"/>, otherwise to the CPU reference; cross-checks the
/// backend's results against the reference (every item of the first batches, then a rotating sample of each batch);
/// and when the backend gives a wrong result or throws, disables it for good (raising <see cref="Faulted"/>), redoes
/// the whole batch on the reference, and sends all later work to the reference.
/// <para>The sample bounds, it does not rule out, a wrong result going unnoticed: a backend wrong on a fraction p of
/// items is caught after about 1/p sampled items, i.e. after roughly SampleOneIn/p items of work. A systematically
/// faulty card is caught within its first batches; one that errs once in a long while may go unnoticed. Consensus
/// does not depend on it: every replica checks independently, so one node's faulty card cannot make the others
/// accept a forged transaction.</para>
/// </summary>
public sealed class CheckedAccelerator : IAccelerator
{
    private readonly IAccelerator _backend;
    private readonly IAccelerator _reference;
    private readonly CrossCheckPolicy _policy;
    private long _batches;
    private long _items;
    private long _rotation;
    private volatile AcceleratorFault? _fault;

    public CheckedAccelerator(IAccelerator backend, IAccelerator? reference = null, CrossCheckPolicy? policy = null)
    {
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        _reference = reference ?? CpuAccelerator.Instance;
        _policy = (policy ?? new CrossCheckPolicy()).Validate();
    }

    /// <summary>Raised once, when the backend is disabled (from the thread that caught it).</summary>
    public event Action<AcceleratorFault>? Faulted;

    public string Name => _backend.Name;

    /// <summary>The backend's capabilities; after a fault, the reference's.</summary>
    public AcceleratorCapabilities Capabilities => _fault is null ? _backend.Capabilities : _reference.Capabilities;

    public IAccelerator Backend => _backend;

    /// <summary>Why the backend was disabled, or null while it is in use.</summary>
    public AcceleratorFault? Fault => _fault;

    public bool Disabled => _fault is not null;

    public AcceleratorStats Stats { get; } = new();

    public void Sha256(IReadOnlyList<ReadOnlyMemory<byte>> messages, Span<Hash32> digests, byte? tag = null)
    {
        AccelArgs.CheckSha256(messages, digests);
        if (!Offload(AccelOps.Sha256, messages.Count))
        {
            _reference.Sha256(messages, digests, tag);
            return;
        }
        string? wrong;
        try
        {
            _backend.Sha256(messages, digests, tag);
            wrong = null;
            foreach (var i in Sample(messages.Count))
            {
                var expected = CpuAccelerator.HashOne(messages[i].Span, tag);
                if (digests[i] != expected)
                {
                    wrong = $"digest of message {i} of {messages.Count} ({messages[i].Length} bytes) is {digests[i].Short}, the reference gives {expected.Short}";
                    break;
                }
            }
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            wrong = Threw(e);
        }
        if (wrong is not null)
        {
            Disable(AccelOps.Sha256, wrong);
            _reference.Sha256(messages, digests, tag);
        }
    }

    public int MerkleLevel(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next)
    {
        var count = AccelArgs.CheckMerkleLevel(level, next);
        if (!Offload(AccelOps.MerkleLevel, level.Length / 2)) return _reference.MerkleLevel(tag, level, next);
        string? wrong;
        try
        {
            var written = _backend.MerkleLevel(tag, level, next);
            wrong = written != count ? $"wrote {written} nodes for a level of {level.Length}, expected {count}" : null;
            if (wrong is null && (level.Length & 1) == 1 && next[count - 1] != level[^1])
                wrong = "the odd last node was not carried up unchanged";
            if (wrong is null)
            {
                foreach (var i in Sample(level.Length / 2))
                {
                    var expected = Hashing.Tagged(tag, level[2 * i], level[2 * i + 1]);
                    if (next[i] != expected)
                    {
                        wrong = $"node {i} of a level of {level.Length} is {next[i].Short}, the reference gives {expected.Short}";
                        break;
                    }
                }
            }
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            wrong = Threw(e);
        }
        if (wrong is null) return count;
        Disable(AccelOps.MerkleLevel, wrong);
        return _reference.MerkleLevel(tag, level, next);
    }

    public void VerifyEd25519(ReadOnlySpan<SignatureCheck> checks, Span<bool> results)
    {
        AccelArgs.CheckVerify(checks, results);
        if (!Offload(AccelOps.Ed25519Verify, checks.Length))
        {
            _reference.VerifyEd25519(checks, results);
            return;
        }
        string? wrong;
        try
        {
            _backend.VerifyEd25519(checks, results);
            wrong = null;
            foreach (var i in Sample(checks.Length))
            {
                var expected = CpuAccelerator.VerifyOne(checks[i]);
                if (results[i] != expected)
                {
                    wrong = $"signature {i} of {checks.Length} judged {(results[i] ? "valid" : "invalid")}, the reference says {(expected ? "valid" : "invalid")}";
                    break;
                }
            }
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            wrong = Threw(e);
        }
        if (wrong is not null)
        {
            Disable(AccelOps.Ed25519Verify, wrong);
            _reference.VerifyEd25519(checks, results);
        }
    }

    public void SealAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items)
    {
        AccelArgs.CheckAead(key, items);
        if (!Offload(AccelOps.AesGcm, items.Length))
        {
            _reference.SealAesGcm(key, items);
            return;
        }
        string? wrong;
        try
        {
            _backend.SealAesGcm(key, items);
            wrong = null;
            using var aes = new AesGcm(key, AccelArgs.TagSize);
            foreach (var i in Sample(items.Length))
            {
                var item = items[i];
                var output = new byte[item.Input.Length];
                var tag = new byte[AccelArgs.TagSize];
                CpuAccelerator.SealOne(aes, item with { Output = output, Tag = tag });
                if (!output.AsSpan().SequenceEqual(item.Output.Span) || !tag.AsSpan().SequenceEqual(item.Tag.Span))
                {
                    wrong = $"ciphertext or tag of item {i} of {items.Length} differs from the reference";
                    break;
                }
            }
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            wrong = Threw(e);
        }
        if (wrong is not null)
        {
            Disable(AccelOps.AesGcm, wrong);
            _reference.SealAesGcm(key, items);
        }
    }

    public void OpenAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items, Span<bool> results)
    {
        AccelArgs.CheckAead(key, items);
        if (results.Length != items.Length) throw new ArgumentException("results must have one slot per item", nameof(results));
        if (!Offload(AccelOps.AesGcm, items.Length))
        {
            _reference.OpenAesGcm(key, items, results);
            return;
        }
        string? wrong;
        try
        {
            _backend.OpenAesGcm(key, items, results);
            wrong = null;
            using var aes = new AesGcm(key, AccelArgs.TagSize);
            foreach (var i in Sample(items.Length))
            {
                var item = items[i];
                var output = new byte[item.Input.Length];
                var expected = CpuAccelerator.OpenOne(aes, item with { Output = output });
                if (expected != results[i] || (expected && !output.AsSpan().SequenceEqual(item.Output.Span)))
                {
                    wrong = $"item {i} of {items.Length} opened differently from the reference";
                    break;
                }
            }
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            wrong = Threw(e);
        }
        if (wrong is not null)
        {
            Disable(AccelOps.AesGcm, wrong);
            _reference.OpenAesGcm(key, items, results);
        }
    }

    public void Dispose() => _backend.Dispose();

    /// <summary>Whether this batch goes to the backend (counted either way).</summary>
    private bool Offload(AccelOps op, int items)
    {
        if (_fault is not null || items == 0 || !_backend.Capabilities.Supports(op) || items < _backend.Capabilities.MinBatch)
        {
            Interlocked.Increment(ref Stats.ReferenceBatches);
            return false;
        }
        Interlocked.Increment(ref Stats.OffloadedBatches);
        Interlocked.Add(ref Stats.OffloadedItems, items);
        return true;
    }

    /// <summary>The indexes to cross-check in a batch of <paramref name="count"/> items.</summary>
    private IEnumerable<int> Sample(int count)
    {
        if (count == 0) yield break;
        var batch = Interlocked.Increment(ref _batches);
        if (batch <= _policy.FullCheckBatches || _policy.SampleOneIn == 1)
        {
            Interlocked.Add(ref Stats.CheckedItems, count);
            for (var i = 0; i < count; i++) yield return i;
            yield break;
        }
        // Items seen so far, and how many multiples of SampleOneIn this batch crosses: that many checks are due.
        var seen = Interlocked.Add(ref _items, count);
        var due = seen / _policy.SampleOneIn - (seen - count) / _policy.SampleOneIn;
        if (due == 0) yield break;
        var checks = (int)Math.Min(count, Math.Max(_policy.SampleItems, due));
        Interlocked.Add(ref Stats.CheckedItems, checks);
        // The last item always (odd tails and off-by-one errors live there), then a rotating stride over the rest.
        yield return count - 1;
        for (var k = 1; k < checks; k++)
        {
            var r = Interlocked.Increment(ref _rotation);
            yield return (int)(unchecked((ulong)r * 0x9E3779B97F4A7C15UL) % (ulong)count);
        }
    }

    private static string Threw(Exception e) => $"the backend threw {e.GetType().Name}: {e.Message}";

    private void Disable(AccelOps op, string detail)
    {
        var fault = new AcceleratorFault(_backend.Name, op, detail);
        if (Interlocked.CompareExchange(ref _fault, fault, null) is not null) return;
        Interlocked.Increment(ref Stats.Faults);
        Faulted?.Invoke(fault);
    }
}
