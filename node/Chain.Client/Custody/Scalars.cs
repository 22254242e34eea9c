using System.Security.Cryptography;
using Chain.Chaincode.Custody;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Utilities;

namespace Chain.Client.Custody;

/// <summary>secp256k1 scalars as the custody protocol exchanges them: 32 bytes, big-endian.</summary>
internal static class Scalars
{
    public const int Size = 32;

    public static BigInteger FromBytes(ReadOnlySpan<byte> bytes) => new(1, bytes.ToArray());

    public static byte[] ToBytes(BigInteger value) => BigIntegers.AsUnsignedByteArray(Size, value);

    public static string ToHex(BigInteger value) => Convert.ToHexStringLower(ToBytes(value));

    public static bool IsValid(BigInteger value) => value.SignValue > 0 && value.CompareTo(Feldman.Order) < 0;

    public static BigInteger Sum(IEnumerable<BigInteger> values) => values.Aggregate(BigInteger.Zero, (a, b) => a.Add(b).Mod(Feldman.Order));

    /// <summary>A uniform scalar in [1, q) from the operating system's CSPRNG, by rejection sampling.</summary>
    public static BigInteger Random()
    {
        Span<byte> buffer = stackalloc byte[Size];
        while (true)
        {
            RandomNumberGenerator.Fill(buffer);
            var value = FromBytes(buffer);
            CryptographicOperations.ZeroMemory(buffer);
            if (IsValid(value)) return value;
        }
    }

    /// <summary>A share decrypted from a sealed box: exactly 32 bytes, a value below q.</summary>
    public static BigInteger Parse(ReadOnlySpan<byte> bytes, string what)
    {
        if (bytes.Length != Size) throw new CustodyException($"{what} is {bytes.Length} bytes, not a 32-byte scalar");
        var value = FromBytes(bytes);
        if (value.CompareTo(Feldman.Order) >= 0) throw new CustodyException($"{what} is not below the group order");
        return value;
    }
}
