namespace Chain.Consensus;

// Primary selection (DESIGN.md "Primary selection by reputation").
public sealed partial class Replica
{
    private ReplicaId PrimaryOf(View view) => new((ushort)(view.Value % (ulong)_n));
}
