namespace Chain.Ledger;

/// <summary>Size bounds enforced when decoding and validating ledger objects.</summary>
public sealed record LedgerLimits
{
    /// <summary>Largest encoded transaction, in bytes. Default 1 MiB.</summary>
    public int MaxTransactionBytes { get; init; } = 1 << 20;

    /// <summary>Most transactions in one block. Default 10,000.</summary>
    public int MaxTransactionsPerBlock { get; init; } = 10_000;

    /// <summary>Largest encoded block (header, body and certificate), in bytes. Default 64 MiB.</summary>
    public int MaxBlockBytes { get; init; } = 64 << 20;

    /// <summary>Most arguments in one transaction. Default 64.</summary>
    public int MaxArguments { get; init; } = 64;

    /// <summary>Longest identifier (chain id, contract id, function name), in UTF-8 bytes. Default 64.</summary>
    public int MaxIdentifierBytes { get; init; } = 64;

    /// <summary>Longest state key, in bytes. Default 1,024.</summary>
    public int MaxStateKeyBytes { get; init; } = 1024;

    /// <summary>Most signatures in a commit certificate (the validator set size bound). Default 1,024.</summary>
    public int MaxCertificateSignatures { get; init; } = 1024;

    public static LedgerLimits Default { get; } = new();

    /// <summary>Throws if a limit is non-positive or inconsistent.</summary>
    public LedgerLimits Validate()
    {
        if (MaxTransactionBytes < 256) throw new ArgumentOutOfRangeException(nameof(MaxTransactionBytes), "must be at least 256");
        if (MaxTransactionsPerBlock < 1) throw new ArgumentOutOfRangeException(nameof(MaxTransactionsPerBlock));
        if (MaxBlockBytes < MaxTransactionBytes) throw new ArgumentOutOfRangeException(nameof(MaxBlockBytes), "must hold one transaction");
        if (MaxArguments < 0) throw new ArgumentOutOfRangeException(nameof(MaxArguments));
        if (MaxIdentifierBytes < 1) throw new ArgumentOutOfRangeException(nameof(MaxIdentifierBytes));
        if (MaxStateKeyBytes < 1) throw new ArgumentOutOfRangeException(nameof(MaxStateKeyBytes));
        if (MaxCertificateSignatures < 1) throw new ArgumentOutOfRangeException(nameof(MaxCertificateSignatures));
        return this;
    }
}
