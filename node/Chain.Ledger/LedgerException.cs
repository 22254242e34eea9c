namespace Chain.Ledger;

/// <summary>What went wrong, as a stable code that callers and tests can match on.</summary>
public enum LedgerError
{
    /// <summary>Bytes that do not decode as the canonical encoding (truncated, trailing, out of range).</summary>
    Malformed,
    /// <summary>An object larger than the configured limit.</summary>
    TooLarge,
    /// <summary>An Ed25519 signature that does not verify.</summary>
    BadSignature,
    /// <summary>A transaction signed by a key that the genesis does not list.</summary>
    UnknownSender,
    /// <summary>A transaction naming a contract that is not registered.</summary>
    UnknownContract,
    /// <summary>A transaction or block for another chain.</summary>
    WrongChain,
    /// <summary>A genesis file that is not valid JSON, misses fields, or breaks a rule.</summary>
    InvalidGenesis,
    /// <summary>A key file that cannot be read, is malformed, or is readable by others.</summary>
    InvalidKeyFile,
    /// <summary>A block that does not extend the stored chain (height, previous hash, roots).</summary>
    InvalidBlock,
    /// <summary>A commit certificate with too few, unknown, duplicate or forged signatures.</summary>
    InvalidCertificate,
    /// <summary>A transaction id already committed.</summary>
    DuplicateTransaction,
    /// <summary>The store on disk is inconsistent or belongs to another chain.</summary>
    StoreCorrupt,
}

/// <summary>The one exception type the ledger throws for bad input; <see cref="Error"/> says which kind.</summary>
public class LedgerException(LedgerError error, string message, Exception? inner = null)
    : Exception($"{error}: {message}", inner)
{
    public LedgerError Error { get; } = error;
}

/// <summary>Canonical decoding failed; <see cref="Field"/> names where.</summary>
public sealed class DecodeException(string field, string message, LedgerError error = LedgerError.Malformed)
    : LedgerException(error, $"{field}: {message}")
{
    public string Field { get; } = field;

    /// <summary>Decodes with <paramref name="decode"/>, turning canonical-codec failures into the ledger's typed error.</summary>
    public static T Translate<T>(ReadOnlySpan<byte> bytes, SpanDecoder<T> decode)
    {
        try
        {
            return decode(bytes);
        }
        catch (Chain.Accel.Encoding.CanonicalDecodeException e)
        {
            throw From(e);
        }
    }

    /// <summary>The ledger's typed form of a canonical-codec failure.</summary>
    public static DecodeException From(Chain.Accel.Encoding.CanonicalDecodeException e) =>
        new(e.Field, e.Reason, e.TooLarge ? LedgerError.TooLarge : LedgerError.Malformed);
}

/// <summary>A decoder over a byte span (lambdas cannot use <see cref="Func{T, TResult}"/> with spans).</summary>
public delegate T SpanDecoder<out T>(ReadOnlySpan<byte> bytes);
