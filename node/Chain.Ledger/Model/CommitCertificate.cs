using System.Collections.ObjectModel;
using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Accel.Offload;
using Chain.Ledger.Identity;

namespace Chain.Ledger.Model;

/// <summary>Which vote a certificate collects.</summary>
public enum CertificatePhase : byte
{
    /// <summary>The normal case: a quorum (2f+1 when n = 3f+1) of commit votes.</summary>
    Commit = 1,
    /// <summary>The fast path: prepare votes from all n replicas.</summary>
    FastPrepare = 2,
}

/// <summary>One replica's signature in a certificate.</summary>
public readonly record struct ReplicaSignature(ushort Replica, Signature Signature);

/// <summary>
/// Proof that a block was committed: replicas' signatures over the vote bytes for the block's
/// hash (see the static VoteBytes). Stored with the block so anyone can check it offline against the genesis validator set.
/// Encoding: tag 0x04, version 1, phase u8, height u64, view u64, block hash, u32 count, then
/// (replica u16, signature 64 bytes) in strictly ascending replica order (so no duplicates).
/// </summary>
public sealed class CommitCertificate
{
    public const byte Tag = 0x04;
    public const byte FormatVersion = 1;
    private static readonly byte[] VoteDomain = "chain.vote.v1\0"u8.ToArray();

    public CommitCertificate(CertificatePhase phase, ulong height, ulong view, Hash32 blockHash,
        IEnumerable<ReplicaSignature> signatures)
    {
        if (!Enum.IsDefined(phase)) throw new ArgumentOutOfRangeException(nameof(phase));
        Phase = phase;
        Height = height;
        View = view;
        BlockHash = blockHash;
        var sorted = signatures.OrderBy(s => s.Replica).ToArray();
        for (var i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Replica == sorted[i - 1].Replica)
                throw new LedgerException(LedgerError.InvalidCertificate, $"replica {sorted[i].Replica} signs twice");
        }
        Signatures = new ReadOnlyCollection<ReplicaSignature>(sorted);
    }

    public CertificatePhase Phase { get; }
    public ulong Height { get; }
    public ulong View { get; }
    public Hash32 BlockHash { get; }
    public IReadOnlyList<ReplicaSignature> Signatures { get; }

    /// <summary>
    /// The bytes a replica signs when it votes: <c>"chain.vote.v1\0" || phase || height || view || block hash</c>.
    /// Consensus signs exactly these bytes, so its collected votes form a ledger certificate.
    /// </summary>
    public static byte[] VoteBytes(CertificatePhase phase, ulong height, ulong view, Hash32 blockHash) =>
        [.. VoteDomain, .. new CanonicalWriter(49).U8((byte)phase).U64(height).U64(view).Hash(blockHash).WrittenSpan];

    public byte[] VoteBytes() => VoteBytes(Phase, Height, View, BlockHash);

    /// <summary>
    /// Null when the certificate proves the block <paramref name="blockHash"/> committed under <paramref name="validators"/>,
    /// else the reason: wrong block, unknown replica, a bad signature, or too few signers.
    /// </summary>
    public string? Check(Hash32 blockHash, ulong height, ValidatorSet validators)
    {
        if (BlockHash != blockHash) return $"certificate is for block {BlockHash.Short}, not {blockHash.Short}";
        if (Height != height) return $"certificate is for height {Height}, not {height}";
        var needed = Phase == CertificatePhase.FastPrepare ? validators.Count : validators.Quorum;
        if (Signatures.Count < needed) return $"{Signatures.Count} signatures, {Phase} needs {needed}";
        var message = VoteBytes();
        var checks = new SignatureCheck[Signatures.Count];
        for (var i = 0; i < checks.Length; i++)
        {
            var s = Signatures[i];
            if (!validators.TryGet(s.Replica, out var validator)) return $"replica {s.Replica} is not a validator";
            checks[i] = new SignatureCheck(validator.PublicKey, message, s.Signature);
        }
        var valid = new bool[checks.Length];
        Offloaded.Current.VerifyEd25519(checks, valid);
        for (var i = 0; i < valid.Length; i++)
        {
            if (!valid[i]) return $"signature of replica {Signatures[i].Replica} is forged";
        }
        return null;
    }

    public byte[] Encode()
    {
        var w = new CanonicalWriter(64 + Signatures.Count * 66);
        Write(w);
        return w.ToArray();
    }

    internal void Write(CanonicalWriter w)
    {
        w.U8(Tag).U8(FormatVersion).U8((byte)Phase).U64(Height).U64(View).Hash(BlockHash).U32((uint)Signatures.Count);
        foreach (var s in Signatures) w.U16(s.Replica).Fixed(s.Signature.Span);
    }

    public static CommitCertificate Decode(ReadOnlySpan<byte> bytes, LedgerLimits? limits = null) => DecodeException.Translate(bytes, b => DecodeCanonical(b, limits));

    private static CommitCertificate DecodeCanonical(ReadOnlySpan<byte> bytes, LedgerLimits? limits = null)
    {
        var r = new CanonicalReader(bytes);
        var cert = Read(ref r, limits ?? LedgerLimits.Default);
        r.End("certificate");
        return cert;
    }

    internal static CommitCertificate Read(ref CanonicalReader r, LedgerLimits limits)
    {
        r.Header(Tag, FormatVersion, "certificate");
        var phase = r.U8("certificate.phase");
        if (!Enum.IsDefined((CertificatePhase)phase)) throw new DecodeException("certificate.phase", $"unknown phase {phase}");
        var height = r.U64("certificate.height");
        var view = r.U64("certificate.view");
        var hash = r.Hash("certificate.blockHash");
        var count = r.Count(limits.MaxCertificateSignatures, "certificate.signatures");
        var sigs = new ReplicaSignature[count];
        for (var i = 0; i < count; i++)
        {
            var replica = r.U16("certificate.replica");
            if (i > 0 && replica <= sigs[i - 1].Replica)
                throw new DecodeException("certificate.replica", "replicas must be strictly ascending");
            sigs[i] = new ReplicaSignature(replica, new Signature(r.Fixed(Signature.Size, "certificate.signature")));
        }
        return new CommitCertificate((CertificatePhase)phase, height, view, hash, sigs);
    }
}

/// <summary>
/// A block with the certificate that committed it: what the store keeps at each height.
/// Encoding: tag 0x05, version 1, the block (as in <see cref="Block"/>, without its own tag), then the certificate.
/// </summary>
public sealed record CommittedBlock(Block Block, CommitCertificate Certificate)
{
    public const byte Tag = 0x05;
    public const byte FormatVersion = 1;

    public ulong Height => Block.Height;

    public byte[] Encode()
    {
        var w = new CanonicalWriter(BlockHeader.EncodedSize + 64 + Block.Transactions.Sum(t => t.Encoded.Length + 4)
            + Certificate.Signatures.Count * 66 + 64);
        w.U8(Tag).U8(FormatVersion);
        Block.Write(w);
        Certificate.Write(w);
        return w.ToArray();
    }

    public static CommittedBlock Decode(ReadOnlySpan<byte> bytes, LedgerLimits? limits = null) => DecodeException.Translate(bytes, b => DecodeCanonical(b, limits));

    private static CommittedBlock DecodeCanonical(ReadOnlySpan<byte> bytes, LedgerLimits? limits = null)
    {
        limits ??= LedgerLimits.Default;
        if (bytes.Length > limits.MaxBlockBytes)
            throw new DecodeException("committedBlock", $"{bytes.Length} bytes, limit {limits.MaxBlockBytes}", LedgerError.TooLarge);
        var r = new CanonicalReader(bytes);
        r.Header(Tag, FormatVersion, "committedBlock");
        var block = Block.Read(ref r, limits);
        var cert = CommitCertificate.Read(ref r, limits);
        r.End("committedBlock");
        return new CommittedBlock(block, cert);
    }
}
