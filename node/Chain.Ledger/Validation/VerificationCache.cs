using Chain.Accel;
using Chain.Ledger.Model;

namespace Chain.Ledger.Validation;

/// <summary>
/// Remembers transactions whose signature was found valid, keyed by transaction id and signature, so a transaction
/// checked at admission is not checked again when it arrives in a block (or is gossiped, or resubmitted). Only
/// successes are kept: a bad signature is always checked afresh. Bounded: two generations of at most
/// <see cref="Capacity"/> entries each; when the current one fills, the older one is dropped. Thread-safe.
/// </summary>
public sealed class VerificationCache
{
    private readonly object _lock = new();
    private HashSet<(Hash32 Id, Signature Signature)> _current = [];
    private HashSet<(Hash32 Id, Signature Signature)> _previous = [];
    private long _hits, _misses;

    public VerificationCache(int capacity = 100_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>Entries per generation (at most twice this are held).</summary>
    public int Capacity { get; }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public int Count
    {
        get
        {
            lock (_lock) return _current.Count + _previous.Count;
        }
    }

    /// <summary>True when this exact transaction (id and signature) was recorded as verified.</summary>
    public bool Contains(Transaction tx)
    {
        bool found;
        lock (_lock) found = _current.Contains((tx.Id, tx.Signature)) || _previous.Contains((tx.Id, tx.Signature));
        Interlocked.Increment(ref found ? ref _hits : ref _misses);
        return found;
    }

    /// <summary>Records that <paramref name="tx"/>'s signature verified.</summary>
    public void Add(Transaction tx)
    {
        lock (_lock)
        {
            if (_previous.Contains((tx.Id, tx.Signature))) return;
            if (_current.Count >= Capacity)
            {
                (_previous, _current) = (_current, _previous);
                _current.Clear();
            }
            _current.Add((tx.Id, tx.Signature));
        }
    }
}
