using System.Collections.ObjectModel;
using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Accel.Offload;

namespace Chain.Ledger.Model;

/// <summary>
/// A signed request to call one function of one contract. Immutable.
/// <para>Encoding (ENCODING.md): the body is tag 0x01, version 1, chain id, contract id, function,
/// arguments (u32 count, then each as length-prefixed bytes), sender public key (32 bytes), nonce (u64);
/// the transaction is the body followed by the 64-byte Ed25519 signature over
/// <c>"chain.tx.v1\0" || body</c>.</para>
/// <para>The id is SHA-256 of the body: re-signing the same body cannot create a second id.</para>
/// </summary>
public sealed class Transaction
{
    public const byte Tag = 0x01;
    public const byte FormatVersion = 1;
    private static readonly byte[] SigningDomain = "chain.tx.v1\0"u8.ToArray();

    private readonly byte[] _body;
    private readonly byte[] _encoded;

    private Transaction(string chainId, string contract, string function, IReadOnlyList<ReadOnlyMemory<byte>> args,
        PublicKey sender, ulong nonce, Signature signature, byte[] body, byte[] encoded, Hash32? id = null)
    {
        ChainId = chainId;
        Contract = contract;
        Function = function;
        Args = args;
        Sender = sender;
        Nonce = nonce;
        Signature = signature;
        _body = body;
        _encoded = encoded;
        Id = id ?? Hash32.Sha256(body);
    }

    public string ChainId { get; }
    public string Contract { get; }
    public string Function { get; }
    public IReadOnlyList<ReadOnlyMemory<byte>> Args { get; }
    public PublicKey Sender { get; }
    public ulong Nonce { get; }
    public Signature Signature { get; }

    /// <summary>SHA-256 of the canonical body.</summary>
    public Hash32 Id { get; }

    /// <summary>The canonical bytes of the whole transaction (body and signature).</summary>
    public ReadOnlySpan<byte> Encoded => _encoded;

    /// <summary>The canonical bytes of the whole transaction, as memory (for batch hashing).</summary>
    public ReadOnlyMemory<byte> EncodedMemory => _encoded;

    /// <summary>The bytes the sender signed (<c>"chain.tx.v1\0" || body</c>).</summary>
    public byte[] SignedBytes() => SigningBytes(_body);

    /// <summary>The canonical body (what is signed, and what the id hashes).</summary>
    public ReadOnlySpan<byte> Body => _body;

    /// <summary>Builds and signs a transaction; throws <see cref="LedgerException"/> if a field is out of bounds.</summary>
    public static Transaction Create(string chainId, string contract, string function,
        IEnumerable<ReadOnlyMemory<byte>> args, ulong nonce, SigningKey key, LedgerLimits? limits = null)
    {
        limits ??= LedgerLimits.Default;
        var argList = args.Select(a => (ReadOnlyMemory<byte>)a.ToArray()).ToArray();
        var body = EncodeBody(chainId, contract, function, argList, key.PublicKey, nonce, limits);
        var signature = key.Sign(SigningBytes(body));
        return Assemble(chainId, contract, function, argList, key.PublicKey, nonce, signature, body, limits);
    }

    /// <summary>Builds a transaction with a signature made elsewhere (it is not checked here).</summary>
    public static Transaction FromParts(string chainId, string contract, string function,
        IEnumerable<ReadOnlyMemory<byte>> args, PublicKey sender, ulong nonce, Signature signature, LedgerLimits? limits = null)
    {
        limits ??= LedgerLimits.Default;
        var argList = args.Select(a => (ReadOnlyMemory<byte>)a.ToArray()).ToArray();
        var body = EncodeBody(chainId, contract, function, argList, sender, nonce, limits);
        return Assemble(chainId, contract, function, argList, sender, nonce, signature, body, limits);
    }

    /// <summary>The bytes a sender signs for a given body.</summary>
    public static byte[] SigningBytes(ReadOnlySpan<byte> body) => [.. SigningDomain, .. body];

    /// <summary>True when the signature is the sender's over this body.</summary>
    public bool VerifySignature() => Ed25519.Verify(Sender, SigningBytes(_body), Signature);

    private static Transaction Assemble(string chainId, string contract, string function, ReadOnlyMemory<byte>[] args,
        PublicKey sender, ulong nonce, Signature signature, byte[] body, LedgerLimits limits)
    {
        var encoded = new byte[body.Length + Signature.Size];
        body.CopyTo(encoded, 0);
        signature.Span.CopyTo(encoded.AsSpan(body.Length));
        if (encoded.Length > limits.MaxTransactionBytes)
            throw new LedgerException(LedgerError.TooLarge, $"transaction is {encoded.Length} bytes, limit {limits.MaxTransactionBytes}");
        return new Transaction(chainId, contract, function, new ReadOnlyCollection<ReadOnlyMemory<byte>>(args),
            sender, nonce, signature, body, encoded);
    }

    private static byte[] EncodeBody(string chainId, string contract, string function, ReadOnlyMemory<byte>[] args,
        PublicKey sender, ulong nonce, LedgerLimits limits)
    {
        Identifiers.Check(chainId, limits.MaxIdentifierBytes, "chainId");
        Identifiers.Check(contract, limits.MaxIdentifierBytes, "contract");
        Identifiers.Check(function, limits.MaxIdentifierBytes, "function");
        if (args.Length > limits.MaxArguments)
            throw new LedgerException(LedgerError.TooLarge, $"{args.Length} arguments, limit {limits.MaxArguments}");
        long size = args.Sum(a => (long)a.Length + 4);
        if (size > limits.MaxTransactionBytes)
            throw new LedgerException(LedgerError.TooLarge, $"arguments take {size} bytes, limit {limits.MaxTransactionBytes}");
        var w = new CanonicalWriter(256 + (int)size)
            .U8(Tag).U8(FormatVersion).String(chainId).String(contract).String(function).U32((uint)args.Length);
        foreach (var a in args) w.Bytes(a.Span);
        return w.Hash(sender.Raw).U64(nonce).ToArray();
    }

    /// <summary>Strict decode; throws <see cref="DecodeException"/> on anything but one canonical transaction.</summary>
    public static Transaction Decode(ReadOnlySpan<byte> bytes, LedgerLimits? limits = null) => DecodeException.Translate(bytes, b => DecodeCanonical(b, limits, null));

    /// <summary>
    /// Decodes many transactions, hashing their ids as one batch on the process's accelerator
    /// (<see cref="Offloaded.Current"/>). Throws <see cref="DecodeException"/> on the first that is not canonical.
    /// </summary>
    public static Transaction[] DecodeBatch(IReadOnlyList<byte[]> encoded, LedgerLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        limits ??= LedgerLimits.Default;
        var bodies = new ReadOnlyMemory<byte>[encoded.Count];
        for (var i = 0; i < bodies.Length; i++)
        {
            // The body is everything before the fixed-size signature (DecodeCanonical checks the rest).
            var bytes = encoded[i];
            bodies[i] = bytes.AsMemory(0, Math.Max(0, bytes.Length - Signature.Size));
        }
        var ids = new Hash32[bodies.Length];
        Offloaded.Current.Sha256(bodies, ids);
        var txs = new Transaction[bodies.Length];
        for (var i = 0; i < txs.Length; i++)
        {
            var id = ids[i];
            txs[i] = DecodeException.Translate(encoded[i], b => DecodeCanonical(b, limits, id));
        }
        return txs;
    }

    private static Transaction DecodeCanonical(ReadOnlySpan<byte> bytes, LedgerLimits? limits, Hash32? id)
    {
        limits ??= LedgerLimits.Default;
        if (bytes.Length > limits.MaxTransactionBytes)
            throw new DecodeException("transaction", $"{bytes.Length} bytes, limit {limits.MaxTransactionBytes}", LedgerError.TooLarge);
        var r = new CanonicalReader(bytes);
        r.Header(Tag, FormatVersion, "transaction");
        var chainId = ReadIdentifier(ref r, limits, "transaction.chainId");
        var contract = ReadIdentifier(ref r, limits, "transaction.contract");
        var function = ReadIdentifier(ref r, limits, "transaction.function");
        var count = r.Count(limits.MaxArguments, "transaction.args");
        var args = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++) args[i] = r.Bytes(limits.MaxTransactionBytes, "transaction.args").ToArray();
        var sender = new PublicKey(r.Hash("transaction.sender"));
        var nonce = r.U64("transaction.nonce");
        var bodyLength = r.Position;
        var signature = new Signature(r.Fixed(Signature.Size, "transaction.signature"));
        r.End("transaction");
        return new Transaction(chainId, contract, function, new ReadOnlyCollection<ReadOnlyMemory<byte>>(args),
            sender, nonce, signature, bytes[..bodyLength].ToArray(), bytes.ToArray(), id);
    }

    private static string ReadIdentifier(ref CanonicalReader r, LedgerLimits limits, string field)
    {
        var s = r.String(limits.MaxIdentifierBytes, field);
        if (!Identifiers.IsValid(s, limits.MaxIdentifierBytes))
            throw new DecodeException(field, "must be 1 or more characters of [A-Za-z0-9._-]");
        return s;
    }

    public override string ToString() => $"tx {Id.Short} {Contract}.{Function} from {Sender.Raw.Short} nonce {Nonce}";
}
