using System.Buffers.Binary;

namespace Chain.Ai.Federated;

/// <summary>The message kinds of secure aggregation, in protocol order (the second byte of every message).</summary>
public enum SecAggMessageType : byte
{
    /// <summary>Round 0, client → server: the client's two X25519 public keys.</summary>
    AdvertiseKeys = 1,

    /// <summary>Round 0, server → every client: the keys of all clients that advertised (U1).</summary>
    AdvertisedKeys = 2,

    /// <summary>Round 1, client → server: one encrypted share bundle per other client of U1.</summary>
    ShareKeys = 3,

    /// <summary>Round 1, server → one client: the bundles addressed to it by the clients that shared (U2).</summary>
    ForwardedShares = 4,

    /// <summary>Round 2, client → server: the masked input y_u.</summary>
    MaskedInput = 5,

    /// <summary>Round 2, server → every client of U3: whose seed shares and whose key shares to reveal.</summary>
    UnmaskRequest = 6,

    /// <summary>Round 3, client → server: the requested shares.</summary>
    UnmaskingShares = 7,
}

/// <summary>
/// The wire format shared by every message: <c>version (1) ‖ type (1) ‖ session (8, little-endian)</c>, then the body;
/// client ids are 2-byte little-endian in 1..n; lists are a 2-byte count then entries in strictly increasing id order
/// (so duplicates cannot be encoded); the masked input is a 4-byte count then little-endian uints. Decoding is strict:
/// wrong version or type, truncation, trailing bytes, counts or ids out of range, unsorted lists, wrong vector length
/// and share values not below the group order are all <see cref="SecureAggregationFormatException"/>; a session other
/// than the parameters' is <see cref="SecureAggregationProtocolException"/>.
/// </summary>
public static class SecAggWire
{
    public const byte Version = 1;
    public const int HeaderSize = 10;
    public const int PublicKeySize = 32;
    public const int IdSize = 2;

    /// <summary>Plaintext of a share bundle: from (2) ‖ to (2) ‖ seed share (32) ‖ key-low share (32) ‖ key-high share (32).</summary>
    public const int SharePlaintextSize = 4 + 3 * SecAggScalars.Size;

    /// <summary>A share bundle encrypted with ChaCha20-Poly1305 (16-byte tag).</summary>
    public const int ShareCiphertextSize = SharePlaintextSize + 16;

    internal static void WriteHeader(Span<byte> buffer, SecAggMessageType type, ulong session)
    {
        buffer[0] = Version;
        buffer[1] = (byte)type;
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[2..], session);
    }

    internal static void CheckSorted(IReadOnlyList<int> ids, string what)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i] is < 1 or > ushort.MaxValue) throw new SecureAggregationFormatException($"{what}: id {ids[i]} out of range");
            if (i > 0 && ids[i] <= ids[i - 1])
                throw new SecureAggregationFormatException($"{what}: ids must be strictly increasing ({ids[i - 1]} then {ids[i]})");
        }
    }
}

/// <summary>Reads one message strictly; every failure is a typed exception.</summary>
internal ref struct SecAggReader
{
    private readonly SecureAggregationParameters _parameters;
    private readonly string _what;
    private ReadOnlySpan<byte> _rest;

    public SecAggReader(ReadOnlySpan<byte> bytes, SecAggMessageType type, SecureAggregationParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        _what = type.ToString();
        _rest = bytes;
        if (bytes.Length < SecAggWire.HeaderSize) throw Malformed($"{bytes.Length} bytes, shorter than the {SecAggWire.HeaderSize}-byte header");
        if (bytes[0] != SecAggWire.Version) throw Malformed($"version {bytes[0]}, expected {SecAggWire.Version}");
        if (bytes[1] != (byte)type) throw Malformed($"message type {bytes[1]}, expected {(byte)type}");
        var session = BinaryPrimitives.ReadUInt64LittleEndian(bytes[2..]);
        if (session != parameters.Session)
            throw new SecureAggregationProtocolException($"{_what}: session {session}, this round is session {parameters.Session}");
        _rest = bytes[SecAggWire.HeaderSize..];
    }

    public SecureAggregationFormatException Malformed(string why) => new($"malformed {_what} message: {why}");

    public ReadOnlySpan<byte> Bytes(int count)
    {
        if (_rest.Length < count) throw Malformed($"truncated ({_rest.Length} bytes left, {count} needed)");
        var result = _rest[..count];
        _rest = _rest[count..];
        return result;
    }

    public byte Byte() => Bytes(1)[0];

    public int Id(string role)
    {
        var id = BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));
        if (id < 1 || id > _parameters.Clients) throw Malformed($"{role} id {id} is not in 1..{_parameters.Clients}");
        return id;
    }

    /// <summary>A 2-byte count, at most <paramref name="max"/>; checked against the bytes left (each entry at least <paramref name="minEntry"/>).</summary>
    public int Count(int max, int minEntry)
    {
        int count = BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));
        if (count > max) throw Malformed($"{count} entries, at most {max}");
        if ((long)count * minEntry > _rest.Length) throw Malformed($"{count} entries announced, only {_rest.Length} bytes left");
        return count;
    }

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));

    public void End()
    {
        if (_rest.Length != 0) throw Malformed($"{_rest.Length} trailing bytes");
    }

    public readonly int Remaining => _rest.Length;
}

/// <summary>A client's two X25519 public keys: <c>c</c> for encrypting shares, <c>s</c> for mask agreement.</summary>
public sealed class ClientKeys
{
    public ClientKeys(int client, byte[] cipherPublicKey, byte[] maskPublicKey)
    {
        if (client is < 1 or > SecureAggregationParameters.MaxClients) throw new SecureAggregationFormatException($"client id {client} out of range");
        if (cipherPublicKey is not { Length: SecAggWire.PublicKeySize } || maskPublicKey is not { Length: SecAggWire.PublicKeySize })
            throw new SecureAggregationFormatException("an X25519 public key is 32 bytes");
        Client = client;
        CipherPublicKey = cipherPublicKey;
        MaskPublicKey = maskPublicKey;
    }

    public int Client { get; }
    public byte[] CipherPublicKey { get; }
    public byte[] MaskPublicKey { get; }

    internal const int Size = SecAggWire.IdSize + 2 * SecAggWire.PublicKeySize;

    internal void Write(Span<byte> buffer)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(buffer, (ushort)Client);
        CipherPublicKey.CopyTo(buffer[2..]);
        MaskPublicKey.CopyTo(buffer[(2 + SecAggWire.PublicKeySize)..]);
    }

    internal static ClientKeys Read(ref SecAggReader reader) =>
        new(reader.Id("client"), reader.Bytes(SecAggWire.PublicKeySize).ToArray(), reader.Bytes(SecAggWire.PublicKeySize).ToArray());

    internal bool SameKeys(ClientKeys other) =>
        CipherPublicKey.AsSpan().SequenceEqual(other.CipherPublicKey) && MaskPublicKey.AsSpan().SequenceEqual(other.MaskPublicKey);
}

/// <summary>Round 0, client → server.</summary>
public sealed class AdvertiseKeys(ulong session, ClientKeys keys)
{
    public ulong Session { get; } = session;
    public ClientKeys Keys { get; } = keys ?? throw new ArgumentNullException(nameof(keys));

    public byte[] Encode()
    {
        var buffer = new byte[SecAggWire.HeaderSize + ClientKeys.Size];
        SecAggWire.WriteHeader(buffer, SecAggMessageType.AdvertiseKeys, Session);
        Keys.Write(buffer.AsSpan(SecAggWire.HeaderSize));
        return buffer;
    }

    public static AdvertiseKeys Decode(ReadOnlySpan<byte> bytes, SecureAggregationParameters parameters)
    {
        var reader = new SecAggReader(bytes, SecAggMessageType.AdvertiseKeys, parameters);
        var keys = ClientKeys.Read(ref reader);
        reader.End();
        return new AdvertiseKeys(parameters.Session, keys);
    }
}

/// <summary>Round 0, server → clients: U1 with its keys, sorted by client id.</summary>
public sealed class AdvertisedKeys
{
    public AdvertisedKeys(ulong session, IReadOnlyList<ClientKeys> clients)
    {
        ArgumentNullException.ThrowIfNull(clients);
        SecAggWire.CheckSorted([.. clients.Select(c => c.Client)], nameof(AdvertisedKeys));
        Session = session;
        Clients = clients;
    }

    public ulong Session { get; }
    public IReadOnlyList<ClientKeys> Clients { get; }

    public byte[] Encode()
    {
        var buffer = new byte[SecAggWire.HeaderSize + 2 + Clients.Count * ClientKeys.Size];
        SecAggWire.WriteHeader(buffer, SecAggMessageType.AdvertisedKeys, Session);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(SecAggWire.HeaderSize), (ushort)Clients.Count);
        for (var i = 0; i < Clients.Count; i++) Clients[i].Write(buffer.AsSpan(SecAggWire.HeaderSize + 2 + i * ClientKeys.Size));
        return buffer;
    }

    public static AdvertisedKeys Decode(ReadOnlySpan<byte> bytes, SecureAggregationParameters parameters)
    {
        var reader = new SecAggReader(bytes, SecAggMessageType.AdvertisedKeys, parameters);
        var count = reader.Count(parameters.Clients, ClientKeys.Size);
        var clients = new List<ClientKeys>(count);
        for (var i = 0; i < count; i++) clients.Add(ClientKeys.Read(ref reader));
        reader.End();
        return new AdvertisedKeys(parameters.Session, clients);
    }
}

/// <summary>A share bundle encrypted between two clients; <see cref="Peer"/> is the recipient (in <see cref="ShareKeys"/>) or the sender (in <see cref="ForwardedShares"/>).</summary>
public sealed class EncryptedShare
{
    public EncryptedShare(int peer, byte[] ciphertext)
    {
        if (peer is < 1 or > SecureAggregationParameters.MaxClients) throw new SecureAggregationFormatException($"peer id {peer} out of range");
        if (ciphertext is not { Length: SecAggWire.ShareCiphertextSize })
            throw new SecureAggregationFormatException($"a share ciphertext is {SecAggWire.ShareCiphertextSize} bytes");
        Peer = peer;
        Ciphertext = ciphertext;
    }

    public int Peer { get; }
    public byte[] Ciphertext { get; }

    internal const int Size = SecAggWire.IdSize + SecAggWire.ShareCiphertextSize;

    internal static byte[] EncodeList(SecAggMessageType type, ulong session, int client, IReadOnlyList<EncryptedShare> shares)
    {
        SecAggWire.CheckSorted([.. shares.Select(s => s.Peer)], type.ToString());
        var buffer = new byte[SecAggWire.HeaderSize + 4 + shares.Count * Size];
        SecAggWire.WriteHeader(buffer, type, session);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(SecAggWire.HeaderSize), (ushort)client);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(SecAggWire.HeaderSize + 2), (ushort)shares.Count);
        for (var i = 0; i < shares.Count; i++)
        {
            var at = buffer.AsSpan(SecAggWire.HeaderSize + 4 + i * Size);
            BinaryPrimitives.WriteUInt16LittleEndian(at, (ushort)shares[i].Peer);
            shares[i].Ciphertext.CopyTo(at[2..]);
        }
        return buffer;
    }

    internal static (int Client, List<EncryptedShare> Shares) DecodeList(ReadOnlySpan<byte> bytes, SecAggMessageType type,
        SecureAggregationParameters parameters)
    {
        var reader = new SecAggReader(bytes, type, parameters);
        var client = reader.Id("client");
        var count = reader.Count(parameters.Clients - 1, Size);
        var shares = new List<EncryptedShare>(count);
        for (var i = 0; i < count; i++)
        {
            var peer = reader.Id("peer");
            if (peer == client) throw reader.Malformed($"client {client} lists itself as a peer");
            if (i > 0 && peer <= shares[^1].Peer) throw reader.Malformed("peers must be strictly increasing");
            shares.Add(new EncryptedShare(peer, reader.Bytes(SecAggWire.ShareCiphertextSize).ToArray()));
        }
        reader.End();
        return (client, shares);
    }
}

/// <summary>Round 1, client → server: one ciphertext per other client of U1, sorted by recipient.</summary>
public sealed class ShareKeys
{
    public ShareKeys(ulong session, int from, IReadOnlyList<EncryptedShare> shares)
    {
        ArgumentNullException.ThrowIfNull(shares);
        SecAggWire.CheckSorted([.. shares.Select(s => s.Peer)], nameof(ShareKeys));
        Session = session;
        From = from;
        Shares = shares;
    }

    public ulong Session { get; }
    public int From { get; }
    public IReadOnlyList<EncryptedShare> Shares { get; }

    public byte[] Encode() => EncryptedShare.EncodeList(SecAggMessageType.ShareKeys, Session, From, Shares);

    public static ShareKeys Decode(ReadOnlySpan<byte> bytes, SecureAggregationParameters parameters)
    {
        var (from, shares) = EncryptedShare.DecodeList(bytes, SecAggMessageType.ShareKeys, parameters);
        return new ShareKeys(parameters.Session, from, shares);
    }
}

/// <summary>Round 1, server → client <see cref="To"/>: the ciphertexts addressed to it, sorted by sender.</summary>
public sealed class ForwardedShares
{
    public ForwardedShares(ulong session, int to, IReadOnlyList<EncryptedShare> shares)
    {
        ArgumentNullException.ThrowIfNull(shares);
        SecAggWire.CheckSorted([.. shares.Select(s => s.Peer)], nameof(ForwardedShares));
        Session = session;
        To = to;
        Shares = shares;
    }

    public ulong Session { get; }
    public int To { get; }
    public IReadOnlyList<EncryptedShare> Shares { get; }

    public byte[] Encode() => EncryptedShare.EncodeList(SecAggMessageType.ForwardedShares, Session, To, Shares);

    public static ForwardedShares Decode(ReadOnlySpan<byte> bytes, SecureAggregationParameters parameters)
    {
        var (to, shares) = EncryptedShare.DecodeList(bytes, SecAggMessageType.ForwardedShares, parameters);
        return new ForwardedShares(parameters.Session, to, shares);
    }
}

/// <summary>Round 2, client → server: y_u, exactly <see cref="SecureAggregationParameters.VectorLength"/> ring elements.</summary>
public sealed class MaskedInput
{
    public MaskedInput(ulong session, int from, uint[] masked)
    {
        ArgumentNullException.ThrowIfNull(masked);
        Session = session;
        From = from;
        Masked = masked;
    }

    public ulong Session { get; }
    public int From { get; }
    public uint[] Masked { get; }

    public byte[] Encode()
    {
        var buffer = new byte[SecAggWire.HeaderSize + 6 + 4L * Masked.Length];
        SecAggWire.WriteHeader(buffer, SecAggMessageType.MaskedInput, Session);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(SecAggWire.HeaderSize), (ushort)From);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(SecAggWire.HeaderSize + 2), Masked.Length);
        var body = buffer.AsSpan(SecAggWire.HeaderSize + 6);
        for (var i = 0; i < Masked.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(body[(4 * i)..], Masked[i]);
        return buffer;
    }

    public static MaskedInput Decode(ReadOnlySpan<byte> bytes, SecureAggregationParameters parameters)
    {
        var reader = new SecAggReader(bytes, SecAggMessageType.MaskedInput, parameters);
        var from = reader.Id("sender");
        var length = reader.Int32();
        if (length != parameters.VectorLength) throw reader.Malformed($"{length} values, this round has {parameters.VectorLength}");
        if (reader.Remaining != 4L * length) throw reader.Malformed($"{reader.Remaining} bytes for {length} values ({4L * length} expected)");
        var body = reader.Bytes(4 * length);
        var masked = new uint[length];
        for (var i = 0; i < length; i++) masked[i] = BinaryPrimitives.ReadUInt32LittleEndian(body[(4 * i)..]);
        reader.End();
        return new MaskedInput(parameters.Session, from, masked);
    }
}

/// <summary>
/// Round 2, server → the clients of U3: reveal the seed (b) shares of <see cref="SeedsOf"/> (the clients whose masked
/// input arrived, U3) and the mask-key (s) shares of <see cref="KeysOf"/> (those that shared in round 1 but sent no
/// masked input, U2 \ U3). A client refuses a request naming one client in both lists, or a second request.
/// </summary>
public sealed class UnmaskRequest
{
    public UnmaskRequest(ulong session, IReadOnlyList<int> seedsOf, IReadOnlyList<int> keysOf)
    {
        ArgumentNullException.ThrowIfNull(seedsOf);
        ArgumentNullException.ThrowIfNull(keysOf);
        SecAggWire.CheckSorted(seedsOf, "UnmaskRequest seeds");
        SecAggWire.CheckSorted(keysOf, "UnmaskRequest keys");
        Session = session;
        SeedsOf = seedsOf;
        KeysOf = keysOf;
    }

    public ulong Session { get; }
    public IReadOnlyList<int> SeedsOf { get; }
    public IReadOnlyList<int> KeysOf { get; }

    public byte[] Encode()
    {
        var buffer = new byte[SecAggWire.HeaderSize + 4 + 2 * (SeedsOf.Count + KeysOf.Count)];
        SecAggWire.WriteHeader(buffer, SecAggMessageType.UnmaskRequest, Session);
        var at = SecAggWire.HeaderSize;
        foreach (var list in new[] { SeedsOf, KeysOf })
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), (ushort)list.Count);
            at += 2;
            foreach (var id in list)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), (ushort)id);
                at += 2;
            }
        }
        return buffer;
    }

    public static UnmaskRequest Decode(ReadOnlySpan<byte> bytes, SecureAggregationParameters parameters)
    {
        var reader = new SecAggReader(bytes, SecAggMessageType.UnmaskRequest, parameters);
        var seeds = ReadIds(ref reader, parameters);
        var keys = ReadIds(ref reader, parameters);
        reader.End();
        return new UnmaskRequest(parameters.Session, seeds, keys);
    }

    private static List<int> ReadIds(ref SecAggReader reader, SecureAggregationParameters parameters)
    {
        var count = reader.Count(parameters.Clients, SecAggWire.IdSize);
        var ids = new List<int>(count);
        for (var i = 0; i < count; i++)
        {
            var id = reader.Id("listed client");
            if (i > 0 && id <= ids[^1]) throw reader.Malformed("ids must be strictly increasing");
            ids.Add(id);
        }
        return ids;
    }
}

/// <summary>Which secret a revealed share belongs to.</summary>
public enum UnmaskShareKind : byte
{
    /// <summary>A share of the self-mask seed b_v (32 bytes): v's masked input arrived.</summary>
    Seed = 1,

    /// <summary>Shares of the two halves of v's mask private key s_v (2 × 32 bytes): v dropped before masking.</summary>
    MaskKey = 2,
}

/// <summary>One revealed share: of <see cref="Subject"/>'s seed (32 bytes) or mask key (64 bytes: low half's share ‖ high half's).</summary>
public sealed class RevealedShare
{
    public RevealedShare(int subject, UnmaskShareKind kind, byte[] value)
    {
        if (subject is < 1 or > SecureAggregationParameters.MaxClients) throw new SecureAggregationFormatException($"subject id {subject} out of range");
        var expected = kind switch
        {
            UnmaskShareKind.Seed => SecAggScalars.Size,
            UnmaskShareKind.MaskKey => 2 * SecAggScalars.Size,
            _ => throw new SecureAggregationFormatException($"unknown share kind {(byte)kind}"),
        };
        if (value is null || value.Length != expected) throw new SecureAggregationFormatException($"a {kind} share is {expected} bytes");
        for (var at = 0; at < value.Length; at += SecAggScalars.Size) SecAggScalars.Read(value.AsSpan(at));
        Subject = subject;
        Kind = kind;
        Value = value;
    }

    public int Subject { get; }
    public UnmaskShareKind Kind { get; }
    public byte[] Value { get; }
}

/// <summary>Round 3, client → server: one revealed share per client of U2, sorted by subject (so never two for one subject).</summary>
public sealed class UnmaskingShares
{
    public UnmaskingShares(ulong session, int from, IReadOnlyList<RevealedShare> shares)
    {
        ArgumentNullException.ThrowIfNull(shares);
        SecAggWire.CheckSorted([.. shares.Select(s => s.Subject)], nameof(UnmaskingShares));
        Session = session;
        From = from;
        Shares = shares;
    }

    public ulong Session { get; }
    public int From { get; }
    public IReadOnlyList<RevealedShare> Shares { get; }

    public byte[] Encode()
    {
        var size = SecAggWire.HeaderSize + 4 + Shares.Sum(s => 3 + s.Value.Length);
        var buffer = new byte[size];
        SecAggWire.WriteHeader(buffer, SecAggMessageType.UnmaskingShares, Session);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(SecAggWire.HeaderSize), (ushort)From);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(SecAggWire.HeaderSize + 2), (ushort)Shares.Count);
        var at = SecAggWire.HeaderSize + 4;
        foreach (var share in Shares)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), (ushort)share.Subject);
            buffer[at + 2] = (byte)share.Kind;
            share.Value.CopyTo(buffer, at + 3);
            at += 3 + share.Value.Length;
        }
        return buffer;
    }

    public static UnmaskingShares Decode(ReadOnlySpan<byte> bytes, SecureAggregationParameters parameters)
    {
        var reader = new SecAggReader(bytes, SecAggMessageType.UnmaskingShares, parameters);
        var from = reader.Id("sender");
        var count = reader.Count(parameters.Clients, 3 + SecAggScalars.Size);
        var shares = new List<RevealedShare>(count);
        for (var i = 0; i < count; i++)
        {
            var subject = reader.Id("subject");
            if (i > 0 && subject <= shares[^1].Subject)
                throw reader.Malformed($"subjects must be strictly increasing (one share per client; {shares[^1].Subject} then {subject})");
            var kind = reader.Byte() switch
            {
                1 => UnmaskShareKind.Seed,
                2 => UnmaskShareKind.MaskKey,
                var k => throw reader.Malformed($"unknown share kind {k}"),
            };
            var length = kind == UnmaskShareKind.Seed ? SecAggScalars.Size : 2 * SecAggScalars.Size;
            shares.Add(new RevealedShare(subject, kind, reader.Bytes(length).ToArray()));
        }
        reader.End();
        return new UnmaskingShares(parameters.Session, from, shares);
    }
}
