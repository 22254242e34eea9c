using Chain.Accel;
using Chain.Ledger.Storage;

namespace Chain.Client.Sources;

/// <summary>Where a ledger is read from, and so how far a reader may trust what it says about itself.</summary>
public enum SourceKind
{
    /// <summary>A node's client API over mutual TLS.</summary>
    Node,

    /// <summary>A data directory opened read-only (a copy of a node's, or beside its running node).</summary>
    DataDirectory,
}

/// <summary>The ledger's tip as a source reports it.</summary>
public sealed record SourceTip(ulong Height, Hash32 TipHash, Hash32 StateRoot, string? ChainId);

/// <summary>
/// Read access to a ledger for auditors: committed blocks (canonical bytes: block and commit certificate) and current
/// state, through a node (<see cref="GrpcLedgerSource"/>) or straight from a data directory (<see cref="StoreLedgerSource"/>).
/// Nothing read here is trusted: the CLI and the verifier check blocks against the genesis themselves.
/// </summary>
public interface ILedgerSource : IDisposable
{
    SourceKind Kind { get; }

    /// <summary>Where it reads from, for messages ("node 127.0.0.1:7100", "data directory /x").</summary>
    string Description { get; }

    Task<SourceTip> TipAsync(CancellationToken cancellationToken = default);

    /// <summary>The canonical <c>CommittedBlock</c> bytes at <paramref name="height"/> (1..tip), or null when the source has none.</summary>
    Task<byte[]?> GetBlockBytesAsync(ulong height, CancellationToken cancellationToken = default);

    /// <summary>The height of the block holding <paramref name="txId"/>, or null.</summary>
    Task<ulong?> FindTransactionAsync(Hash32 txId, CancellationToken cancellationToken = default);

    /// <summary>Current state, entry by entry.</summary>
    IStateReader State { get; }

    /// <summary>Current state with each entry's version (the height that wrote it), in key order; for the verifier's comparison.</summary>
    IAsyncEnumerable<KeyValuePair<byte[], StateEntry>> ScanStateEntriesAsync(byte[] prefix, CancellationToken cancellationToken = default);

    /// <summary>Misbehaviour consensus recorded (JSON records, newest last); empty where the source cannot tell.</summary>
    Task<IReadOnlyList<string>> EvidenceAsync(CancellationToken cancellationToken = default);
}
