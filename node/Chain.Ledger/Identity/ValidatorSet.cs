using System.Collections.ObjectModel;
using Chain.Accel;

namespace Chain.Ledger.Identity;

/// <summary>One consensus replica: its id, its Ed25519 key, and the organisation that runs it.</summary>
public sealed record Validator(ushort Id, PublicKey PublicKey, string Organisation, string Name);

/// <summary>
/// The replicas that order blocks, from the genesis. n = <see cref="Count"/>, f = floor((n-1)/3), and a
/// quorum is ceil((n+f+1)/2) replicas: 2f+1 when n = 3f+1, and large enough that any two quorums share
/// an honest replica for every other n too (for n = 5, 2f+1 = 3 would not be).
/// </summary>
public sealed class ValidatorSet
{
    private readonly Dictionary<ushort, Validator> _byId;

    public ValidatorSet(IEnumerable<Validator> validators)
    {
        var list = validators.OrderBy(v => v.Id).ToArray();
        if (list.Length == 0) throw new LedgerException(LedgerError.InvalidGenesis, "there must be at least one validator");
        _byId = new Dictionary<ushort, Validator>();
        foreach (var v in list)
        {
            if (!_byId.TryAdd(v.Id, v)) throw new LedgerException(LedgerError.InvalidGenesis, $"validator id {v.Id} is used twice");
        }
        if (list.Select(v => v.PublicKey).Distinct().Count() != list.Length)
            throw new LedgerException(LedgerError.InvalidGenesis, "two validators share a public key");
        All = new ReadOnlyCollection<Validator>(list);
        MaxFaulty = (list.Length - 1) / 3;
        Quorum = (list.Length + MaxFaulty + 2) / 2;
    }

    public IReadOnlyList<Validator> All { get; }

    /// <summary>n.</summary>
    public int Count => All.Count;

    /// <summary>f: the most Byzantine replicas tolerated.</summary>
    public int MaxFaulty { get; }

    /// <summary>ceil((n+f+1)/2): 2f+1 when n = 3f+1.</summary>
    public int Quorum { get; }

    public bool TryGet(ushort id, out Validator validator) => _byId.TryGetValue(id, out validator!);

    public Validator this[ushort id] =>
        _byId.TryGetValue(id, out var v) ? v : throw new KeyNotFoundException($"replica {id} is not a validator");
}
