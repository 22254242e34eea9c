using System.Buffers.Binary;
using System.Text;
using NSec.Cryptography;

namespace Chain.Client.Custody;

/// <summary>
/// What a sealed box is for; it is authenticated as associated data, so a box opens only for the context it was sealed
/// for (a share sealed for one secret, epoch or recipient cannot be replayed as another).
/// </summary>
/// <param name="ChainId">The chain the secret lives on.</param>
/// <param name="SecretId">The custody record's id.</param>
/// <param name="Epoch">The custody epoch the share belongs to (0 for the dealing, e for the refresh to epoch e).</param>
/// <param name="Recipient">The organisation the box is sealed to.</param>
/// <param name="Purpose"><c>share</c> for a dealt or refreshed share, <c>release:&lt;requestId&gt;</c> for a share re-encrypted to a requester.</param>
public sealed record SealContext(string ChainId, string SecretId, int Epoch, string Recipient, string Purpose)
{
    private static readonly byte[] Domain = "chain/custody/seal-context/v1"u8.ToArray();
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Canonical bytes: a domain tag, then each string as a 4-byte big-endian length and UTF-8, the epoch as 4 bytes big-endian.</summary>
    public byte[] Encode()
    {
        using var buffer = new MemoryStream();
        buffer.Write(Domain);
        foreach (var field in new[] { ChainId, SecretId, Recipient, Purpose })
        {
            byte[] bytes;
            try
            {
                bytes = StrictUtf8.GetBytes(field ?? throw new CustodyException("a seal context field is null"));
            }
            catch (EncoderFallbackException e)
            {
                throw new CustodyException($"a seal context field is not valid Unicode: {e.Message}", e);
            }
            WriteInt(buffer, bytes.Length);
            buffer.Write(bytes);
        }
        WriteInt(buffer, Epoch);
        return buffer.ToArray();
    }

    private static void WriteInt(MemoryStream buffer, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        buffer.Write(b);
    }
}

/// <summary>
/// Anonymous public-key encryption of a share to an X25519 key (an ECIES "sealed box").
/// Format: <c>0x01 ‖ ephemeral public key (32) ‖ ChaCha20-Poly1305 ciphertext and tag</c>. The AEAD key is
/// HKDF-SHA256 of the X25519 shared secret, with salt = ephemeral public key ‖ recipient public key and a fixed info
/// label; the nonce is zero (every box has a fresh key); the associated data is <see cref="SealContext.Encode"/>.
/// </summary>
public static class SealedBox
{
    public const byte Version = 1;
    public const int Overhead = 1 + KeySize + TagSize;

    private const int KeySize = 32;
    private const int TagSize = 16;
    private static readonly byte[] Info = "chain/custody/sealed-box/v1 chacha20-poly1305"u8.ToArray();
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;

    /// <summary>
    /// Seals <paramref name="plaintext"/> to the X25519 key <paramref name="recipientPublicKeyHex"/> (64 hex characters)
    /// for <paramref name="context"/>.
    /// </summary>
    public static byte[] Seal(ReadOnlySpan<byte> plaintext, string recipientPublicKeyHex, SealContext context)
    {
        var recipientRaw = ParsePublicKey(recipientPublicKeyHex);
        var recipient = PublicKey.Import(KeyAgreementAlgorithm.X25519, recipientRaw, KeyBlobFormat.RawPublicKey);
        using var ephemeral = Key.Create(KeyAgreementAlgorithm.X25519);
        var ephemeralRaw = ephemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        using var key = DeriveKey(ephemeral, recipient, ephemeralRaw, recipientRaw)
            ?? throw new CustodyException("the recipient public key is a low-order point: refusing to seal to it");
        var sealedBytes = Aead.Encrypt(key, new byte[Aead.NonceSize], context.Encode(), plaintext);
        return [Version, .. ephemeralRaw, .. sealedBytes];
    }

    /// <summary>Opens a box sealed to <paramref name="recipient"/> for <paramref name="context"/>; <see cref="ShareDecryptionException"/> otherwise.</summary>
    public static byte[] Open(ReadOnlySpan<byte> box, CustodyKeyPair recipient, SealContext context)
    {
        static ShareDecryptionException Fail(SealContext c, string why) =>
            new($"cannot decrypt the sealed box for {c.Recipient} ({c.Purpose}, secret {c.SecretId}, epoch {c.Epoch}): {why}");
        if (box.Length < Overhead || box[0] != Version) throw Fail(context, "not a version-1 sealed box (wrong format or truncated)");
        var ephemeralRaw = box.Slice(1, KeySize).ToArray();
        if (!PublicKey.TryImport(KeyAgreementAlgorithm.X25519, ephemeralRaw, KeyBlobFormat.RawPublicKey, out var ephemeral) || ephemeral is null)
            throw Fail(context, "the ephemeral key is invalid");
        var recipientRaw = recipient.Key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        using var key = DeriveKey(recipient.Key, ephemeral, ephemeralRaw, recipientRaw) ?? throw Fail(context, "the ephemeral key is a low-order point");
        return Aead.Decrypt(key, new byte[Aead.NonceSize], context.Encode(), box[(1 + KeySize)..])
            ?? throw Fail(context, "wrong key, wrong context, or tampered");
    }

    private static Key? DeriveKey(Key mine, PublicKey theirs, byte[] ephemeralRaw, byte[] recipientRaw)
    {
        using var shared = KeyAgreementAlgorithm.X25519.Agree(mine, theirs);
        if (shared is null) return null;
        return KeyDerivationAlgorithm.HkdfSha256.DeriveKey(shared, [.. ephemeralRaw, .. recipientRaw], Info, Aead);
    }

    private static byte[] ParsePublicKey(string hex)
    {
        if (hex is not { Length: 64 } || !hex.All(char.IsAsciiHexDigit))
            throw new CustodyException($"'{hex}' is not an X25519 public key (64 hex characters)");
        return Convert.FromHexString(hex);
    }
}
