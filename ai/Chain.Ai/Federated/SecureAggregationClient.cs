using System.Buffers.Binary;
using System.Security.Cryptography;
using Chain.Chaincode.Custody;
using NSec.Cryptography;
using BigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Chain.Ai.Federated;

/// <summary>
/// Key derivations of secure aggregation. Each client has two X25519 keys: c (share encryption) and s (masks).
/// <list type="bullet">
/// <item>Share encryption between u and v: ChaCha20-Poly1305 under HKDF-SHA256(X25519(c_u, c_v), salt = session (8, LE)
/// ‖ min(u,v) ‖ max(u,v) (2 each, LE), info "chain/secagg/v1/share-encryption"); the nonce is sender ‖ recipient
/// (2 bytes each, LE) then zeros, so the two directions of a pair never reuse a nonce; the associated data is the
/// version, session, sender and recipient.</item>
/// <item>Pairwise mask key s_uv: HKDF-SHA256(X25519(s_u, s_v), same salt, info "chain/secagg/v1/pairwise-mask"), 32 bytes,
/// expanded by <see cref="MaskPrg"/>.</item>
/// <item>Self mask key: SHA-256("chain/secagg/v1/self-mask" ‖ session ‖ b_u as 32 bytes big-endian), b_u a random scalar
/// in [1, q) (q the secp256k1 order, so it can be Shamir-shared with <see cref="Feldman"/>).</item>
/// <item>The mask private key s_u (32 raw bytes) is shared as two 16-byte halves, each as the scalar half + 1 (in
/// [1, 2^128], below q and never zero, as <see cref="Feldman.Deal"/> requires); the server subtracts 1 after
/// reconstruction and checks the rebuilt key's public half against the advertised one.</item>
/// </list>
/// </summary>
internal static class SecAggKeys
{
    private static readonly byte[] ShareInfo = "chain/secagg/v1/share-encryption"u8.ToArray();
    private static readonly byte[] MaskInfo = "chain/secagg/v1/pairwise-mask"u8.ToArray();
    private static readonly byte[] SelfLabel = "chain/secagg/v1/self-mask"u8.ToArray();

    public static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;

    public static Key NewKey(ISecureAggregationRandom random)
    {
        Span<byte> raw = stackalloc byte[32];
        random.Fill(raw);
        try
        {
            return ImportPrivate(raw);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    public static Key ImportPrivate(ReadOnlySpan<byte> raw) =>
        Key.Import(KeyAgreementAlgorithm.X25519, raw, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });

    public static byte[] PublicBytes(Key key) => key.PublicKey.Export(KeyBlobFormat.RawPublicKey);

    public static PublicKey ImportPublic(byte[] raw, int client)
    {
        if (!PublicKey.TryImport(KeyAgreementAlgorithm.X25519, raw, KeyBlobFormat.RawPublicKey, out var key) || key is null)
            throw new SecureAggregationProtocolException($"client {client}'s public key is not an X25519 key");
        return key;
    }

    private static byte[] Salt(ulong session, int a, int b)
    {
        var salt = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(salt, session);
        BinaryPrimitives.WriteUInt16LittleEndian(salt.AsSpan(8), (ushort)Math.Min(a, b));
        BinaryPrimitives.WriteUInt16LittleEndian(salt.AsSpan(10), (ushort)Math.Max(a, b));
        return salt;
    }

    private static SharedSecret Agree(Key mine, PublicKey theirs, int peer) =>
        KeyAgreementAlgorithm.X25519.Agree(mine, theirs)
        ?? throw new SecureAggregationProtocolException($"client {peer}'s public key is a low-order point: no shared secret");

    public static Key ShareKey(Key mine, PublicKey theirs, ulong session, int u, int v)
    {
        using var shared = Agree(mine, theirs, v);
        return KeyDerivationAlgorithm.HkdfSha256.DeriveKey(shared, Salt(session, u, v), ShareInfo, Aead);
    }

    public static byte[] PairwiseMaskKey(Key mine, PublicKey theirs, ulong session, int u, int v)
    {
        using var shared = Agree(mine, theirs, v);
        return KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, Salt(session, u, v), MaskInfo, 32);
    }

    public static byte[] SelfMaskKey(ulong session, BigInteger seed)
    {
        var material = new byte[SelfLabel.Length + 8 + SecAggScalars.Size];
        SelfLabel.CopyTo(material, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(material.AsSpan(SelfLabel.Length), session);
        SecAggScalars.Write(seed, material.AsSpan(SelfLabel.Length + 8));
        return SHA256.HashData(material);
    }

    public static byte[] Nonce(int from, int to)
    {
        var nonce = new byte[Aead.NonceSize];
        BinaryPrimitives.WriteUInt16LittleEndian(nonce, (ushort)from);
        BinaryPrimitives.WriteUInt16LittleEndian(nonce.AsSpan(2), (ushort)to);
        return nonce;
    }

    public static byte[] AssociatedData(ulong session, int from, int to)
    {
        var ad = new byte[1 + 8 + 4];
        ad[0] = SecAggWire.Version;
        BinaryPrimitives.WriteUInt64LittleEndian(ad.AsSpan(1), session);
        BinaryPrimitives.WriteUInt16LittleEndian(ad.AsSpan(9), (ushort)from);
        BinaryPrimitives.WriteUInt16LittleEndian(ad.AsSpan(11), (ushort)to);
        return ad;
    }

    /// <summary>A 16-byte half of a raw private key as the scalar half + 1.</summary>
    public static BigInteger HalfToScalar(ReadOnlySpan<byte> half) => new BigInteger(1, half.ToArray()).Add(BigInteger.One);

    /// <summary>The inverse of <see cref="HalfToScalar"/>; a value outside [1, 2^128] means the shares were wrong.</summary>
    public static void ScalarToHalf(BigInteger scalar, Span<byte> destination, int subject)
    {
        var value = scalar.Subtract(BigInteger.One);
        if (value.SignValue < 0 || value.BitLength > 128)
            throw new SecureAggregationProtocolException($"the shares of client {subject}'s mask key do not reconstruct a key half");
        var raw = value.ToByteArrayUnsigned();
        destination[..16].Clear();
        raw.CopyTo(destination[(16 - raw.Length)..]);
    }
}

/// <summary>
/// One client of secure aggregation (Bonawitz et al., CCS 2017, the semi-honest protocol of section 4), as a state
/// machine without I/O: each round takes the server's message and returns the client's reply. Calls must come in order
/// (<see cref="AdvertiseKeys"/>, <see cref="ShareKeys"/>, <see cref="MaskInput"/>, <see cref="Unmask"/>), each once;
/// anything else is a <see cref="SecureAggregationProtocolException"/>. See <see cref="SecureAggregation"/> for what the
/// protocol protects and what it does not.
/// </summary>
public sealed class SecureAggregationClient : IDisposable
{
    private enum Phase
    {
        Created,
        Advertised,
        Shared,
        Masked,
        Unmasked,
    }

    private readonly SecureAggregationParameters _parameters;
    private readonly ISecureAggregationRandom _random;
    private readonly Key _cipherKey;
    private readonly Key _maskKey;
    private readonly Dictionary<int, (PublicKey Cipher, PublicKey Mask)> _peers = [];
    private readonly Dictionary<int, byte[]> _held = []; // from client v: v's share bundle for me (seed ‖ key low ‖ key high)
    private Phase _phase = Phase.Created;
    private BigInteger? _seed;
    private SortedSet<int>? _shared; // U2 as this client saw it

    public SecureAggregationClient(SecureAggregationParameters parameters, int id, ISecureAggregationRandom? random = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (id < 1 || id > parameters.Clients) throw new ArgumentOutOfRangeException(nameof(id), id, $"client ids are 1..{parameters.Clients}");
        _parameters = parameters;
        Id = id;
        _random = random ?? SystemSecureAggregationRandom.Instance;
        _cipherKey = SecAggKeys.NewKey(_random);
        _maskKey = SecAggKeys.NewKey(_random);
    }

    public int Id { get; }

    /// <summary>Round 0: this client's two public keys.</summary>
    public AdvertiseKeys AdvertiseKeys()
    {
        Expect(Phase.Created, "AdvertiseKeys");
        _phase = Phase.Advertised;
        return new AdvertiseKeys(_parameters.Session, Keys());
    }

    /// <summary>
    /// Round 1: checks the advertised keys (at least t clients, this client's own keys unchanged, no key repeated),
    /// draws the self-mask seed b_u, Shamir-shares b_u and s_u t-of-n and encrypts each other client's shares to it.
    /// </summary>
    public ShareKeys ShareKeys(AdvertisedKeys advertised)
    {
        ArgumentNullException.ThrowIfNull(advertised);
        Expect(Phase.Advertised, "ShareKeys");
        CheckSession(advertised.Session);
        var clients = advertised.Clients;
        if (clients.Count < _parameters.Threshold)
            throw new SecureAggregationThresholdException("round 0 (AdvertiseKeys)", clients.Count, _parameters.Threshold);
        var seen = new HashSet<string>();
        foreach (var c in clients)
        {
            _parameters.CheckClient(c.Client, "advertised client");
            if (!seen.Add(Convert.ToHexString(c.CipherPublicKey)) || !seen.Add(Convert.ToHexString(c.MaskPublicKey)))
                throw new SecureAggregationProtocolException($"client {c.Client} advertises a public key another client also has");
        }
        var mine = clients.FirstOrDefault(c => c.Client == Id)
                   ?? throw new SecureAggregationProtocolException($"the advertised keys leave out client {Id} itself");
        if (!mine.SameKeys(Keys())) throw new SecureAggregationProtocolException($"the server advertises other keys for client {Id}");
        foreach (var c in clients.Where(c => c.Client != Id))
            _peers[c.Client] = (SecAggKeys.ImportPublic(c.CipherPublicKey, c.Client), SecAggKeys.ImportPublic(c.MaskPublicKey, c.Client));

        var seed = SecAggScalars.Random(_random);
        var raw = _maskKey.Export(KeyBlobFormat.RawPrivateKey);
        BigInteger Scalar() => SecAggScalars.Random(_random);
        var seedShares = Feldman.Deal(seed, _parameters.Threshold, _parameters.Clients, Scalar).Shares;
        var lowShares = Feldman.Deal(SecAggKeys.HalfToScalar(raw.AsSpan(0, 16)), _parameters.Threshold, _parameters.Clients, Scalar).Shares;
        var highShares = Feldman.Deal(SecAggKeys.HalfToScalar(raw.AsSpan(16, 16)), _parameters.Threshold, _parameters.Clients, Scalar).Shares;
        CryptographicOperations.ZeroMemory(raw);
        _seed = seed;

        var encrypted = new List<EncryptedShare>(_peers.Count);
        var plaintext = new byte[SecAggWire.SharePlaintextSize];
        foreach (var v in clients.Select(c => c.Client))
        {
            Bundle(plaintext, v, seedShares[v - 1].Value, lowShares[v - 1].Value, highShares[v - 1].Value);
            if (v == Id)
            {
                _held[Id] = plaintext[4..];
                continue;
            }
            using var key = SecAggKeys.ShareKey(_cipherKey, _peers[v].Cipher, _parameters.Session, Id, v);
            encrypted.Add(new EncryptedShare(v, SecAggKeys.Aead.Encrypt(key, SecAggKeys.Nonce(Id, v),
                SecAggKeys.AssociatedData(_parameters.Session, Id, v), plaintext)));
        }
        CryptographicOperations.ZeroMemory(plaintext);
        _phase = Phase.Shared;
        return new ShareKeys(_parameters.Session, Id, encrypted);
    }

    /// <summary>Round 2 with a float input: encodes it (<see cref="RingFixedPoint.Encode"/>, clip-checked) and masks it.</summary>
    public MaskedInput MaskInput(ForwardedShares forwarded, ReadOnlySpan<float> input)
    {
        if (input.Length != _parameters.VectorLength)
            throw new SecureAggregationException($"client {Id}: an input of {input.Length} values, this round has {_parameters.VectorLength}");
        return MaskEncodedInput(forwarded, _parameters.FixedPoint.Encode(input));
    }

    /// <summary>
    /// Round 2: decrypts and checks the shares the other clients of U2 sent (each must authenticate and name the right
    /// sender and recipient), then returns y_u = x_u + PRG(b_u) + Σ_{v∈U2, v&gt;u} PRG(s_uv) − Σ_{v∈U2, v&lt;u} PRG(s_uv) mod 2^32.
    /// </summary>
    public MaskedInput MaskEncodedInput(ForwardedShares forwarded, uint[] encoded)
    {
        ArgumentNullException.ThrowIfNull(forwarded);
        ArgumentNullException.ThrowIfNull(encoded);
        Expect(Phase.Shared, "MaskInput");
        CheckSession(forwarded.Session);
        if (encoded.Length != _parameters.VectorLength)
            throw new SecureAggregationException($"client {Id}: an input of {encoded.Length} values, this round has {_parameters.VectorLength}");
        if (forwarded.To != Id) throw new SecureAggregationProtocolException($"client {Id} was handed the shares for client {forwarded.To}");
        var shared = new SortedSet<int> { Id };
        foreach (var share in forwarded.Shares)
        {
            if (!_peers.TryGetValue(share.Peer, out var peer))
                throw new SecureAggregationProtocolException($"client {Id} got shares from client {share.Peer}, which did not advertise keys");
            using var key = SecAggKeys.ShareKey(_cipherKey, peer.Cipher, _parameters.Session, Id, share.Peer);
            var plaintext = SecAggKeys.Aead.Decrypt(key, SecAggKeys.Nonce(share.Peer, Id),
                                SecAggKeys.AssociatedData(_parameters.Session, share.Peer, Id), share.Ciphertext)
                            ?? throw new SecureAggregationProtocolException(
                                $"client {Id}: the shares from client {share.Peer} do not authenticate (tampered, or not for this round)");
            if (BinaryPrimitives.ReadUInt16LittleEndian(plaintext) != share.Peer || BinaryPrimitives.ReadUInt16LittleEndian(plaintext.AsSpan(2)) != Id)
                throw new SecureAggregationProtocolException($"client {Id}: the bundle from client {share.Peer} names another sender or recipient");
            try
            {
                for (var at = 4; at < plaintext.Length; at += SecAggScalars.Size) SecAggScalars.Read(plaintext.AsSpan(at));
            }
            catch (SecureAggregationFormatException e)
            {
                throw new SecureAggregationProtocolException($"client {Id}: client {share.Peer} sent an invalid share", e);
            }
            _held[share.Peer] = plaintext[4..];
            shared.Add(share.Peer);
        }
        if (shared.Count < _parameters.Threshold)
            throw new SecureAggregationThresholdException("round 1 (ShareKeys)", shared.Count, _parameters.Threshold);
        _shared = shared;

        var masked = (uint[])encoded.Clone();
        MaskPrg.Apply(SecAggKeys.SelfMaskKey(_parameters.Session, _seed!), masked, add: true);
        foreach (var v in shared)
        {
            if (v == Id) continue;
            var pairKey = SecAggKeys.PairwiseMaskKey(_maskKey, _peers[v].Mask, _parameters.Session, Id, v);
            MaskPrg.Apply(pairKey, masked, add: v > Id);
            CryptographicOperations.ZeroMemory(pairKey);
        }
        _phase = Phase.Masked;
        return new MaskedInput(_parameters.Session, Id, masked);
    }

    /// <summary>
    /// Round 3: reveals the seed shares of <see cref="UnmaskRequest.SeedsOf"/> and the mask-key shares of
    /// <see cref="UnmaskRequest.KeysOf"/>. Refuses (<see cref="SecureAggregationProtocolException"/>) a request naming a
    /// client in both lists, naming this client among the dropped, not covering exactly the clients that shared in round
    /// 1, or coming a second time; fewer than t listed survivors is a <see cref="SecureAggregationThresholdException"/>.
    /// </summary>
    public UnmaskingShares Unmask(UnmaskRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_phase == Phase.Unmasked)
            throw new SecureAggregationProtocolException($"client {Id} already answered an unmask request this round: refusing another");
        Expect(Phase.Masked, "Unmask");
        CheckSession(request.Session);
        var seeds = request.SeedsOf.ToHashSet();
        var both = request.KeysOf.Where(seeds.Contains).ToList();
        if (both.Count > 0)
            throw new SecureAggregationProtocolException(
                $"client {Id} refuses: the server asks for both the seed and the mask-key shares of client(s) {string.Join(", ", both)}");
        if (request.KeysOf.Contains(Id) || !seeds.Contains(Id))
            throw new SecureAggregationProtocolException($"client {Id} refuses: the request counts it as dropped, but it sent its masked input");
        var listed = new SortedSet<int>(request.SeedsOf.Concat(request.KeysOf));
        if (!listed.SetEquals(_shared!))
            throw new SecureAggregationProtocolException(
                $"client {Id} refuses: the request lists {{{string.Join(", ", listed)}}}, but {{{string.Join(", ", _shared!)}}} shared in round 1");
        if (seeds.Count < _parameters.Threshold)
            throw new SecureAggregationThresholdException("round 2 (MaskedInput)", seeds.Count, _parameters.Threshold);
        _phase = Phase.Unmasked;
        var revealed = new List<RevealedShare>(listed.Count);
        foreach (var v in listed)
        {
            var bundle = _held[v];
            revealed.Add(seeds.Contains(v)
                ? new RevealedShare(v, UnmaskShareKind.Seed, bundle[..SecAggScalars.Size])
                : new RevealedShare(v, UnmaskShareKind.MaskKey, bundle[SecAggScalars.Size..]));
        }
        foreach (var bundle in _held.Values) CryptographicOperations.ZeroMemory(bundle);
        _held.Clear();
        return new UnmaskingShares(_parameters.Session, Id, revealed);
    }

    public void Dispose()
    {
        _cipherKey.Dispose();
        _maskKey.Dispose();
    }

    private ClientKeys Keys() => new(Id, SecAggKeys.PublicBytes(_cipherKey), SecAggKeys.PublicBytes(_maskKey));

    private void Bundle(byte[] plaintext, int to, BigInteger seedShare, BigInteger lowShare, BigInteger highShare)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(plaintext, (ushort)Id);
        BinaryPrimitives.WriteUInt16LittleEndian(plaintext.AsSpan(2), (ushort)to);
        SecAggScalars.Write(seedShare, plaintext.AsSpan(4));
        SecAggScalars.Write(lowShare, plaintext.AsSpan(4 + SecAggScalars.Size));
        SecAggScalars.Write(highShare, plaintext.AsSpan(4 + 2 * SecAggScalars.Size));
    }

    private void Expect(Phase phase, string step)
    {
        if (_phase != phase) throw new SecureAggregationProtocolException($"client {Id}: {step} out of order (the client is at {_phase})");
    }

    private void CheckSession(ulong session)
    {
        if (session != _parameters.Session)
            throw new SecureAggregationProtocolException($"client {Id}: a message of session {session}, this round is {_parameters.Session}");
    }
}
