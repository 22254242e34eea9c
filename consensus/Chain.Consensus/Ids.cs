namespace Chain.Consensus;

/// <summary>A view number (PBFT §4.1): the primary is a function of it.</summary>
public readonly record struct View(ulong Value) : IComparable<View>
{
    public View Next => new(checked(Value + 1));

    public int CompareTo(View other) => Value.CompareTo(other.Value);

    public static bool operator <(View a, View b) => a.Value < b.Value;

    public static bool operator >(View a, View b) => a.Value > b.Value;

    public static bool operator <=(View a, View b) => a.Value <= b.Value;

    public static bool operator >=(View a, View b) => a.Value >= b.Value;

    public override string ToString() => "v" + Value;
}

/// <summary>A sequence number: the height of the block being ordered.</summary>
public readonly record struct SeqNo(ulong Value) : IComparable<SeqNo>
{
    public SeqNo Next => new(checked(Value + 1));

    public SeqNo Previous => new(checked(Value - 1));

    public int CompareTo(SeqNo other) => Value.CompareTo(other.Value);

    public static bool operator <(SeqNo a, SeqNo b) => a.Value < b.Value;

    public static bool operator >(SeqNo a, SeqNo b) => a.Value > b.Value;

    public static bool operator <=(SeqNo a, SeqNo b) => a.Value <= b.Value;

    public static bool operator >=(SeqNo a, SeqNo b) => a.Value >= b.Value;

    public override string ToString() => "#" + Value;
}

/// <summary>A replica's index in the validator set (0..n-1).</summary>
public readonly record struct ReplicaId(ushort Value)
{
    public override string ToString() => "r" + Value;
}
