namespace Chain.Ledger;

/// <summary>Orders byte arrays by their bytes (for deterministic iteration) and compares them by content.</summary>
public sealed class ByteComparer : IComparer<byte[]>, IEqualityComparer<byte[]>
{
    public static ByteComparer Instance { get; } = new();

    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}
