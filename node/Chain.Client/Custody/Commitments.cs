using Chain.Chaincode.Custody;
using Org.BouncyCastle.Math.EC;
using CustodyRecord = Chain.Chaincode.Contracts.Custody;

namespace Chain.Client.Custody;

internal static class Commitments
{
    /// <summary>The record's current commitments as points; a record with a malformed one is refused.</summary>
    public static IReadOnlyList<ECPoint> Decode(CustodyRecord custody)
    {
        try
        {
            return [.. custody.Commitments.Select(c => Feldman.Decode(Convert.FromHexString(c)))];
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new CustodyException($"{custody.Id} holds a commitment that is not a secp256k1 point: {e.Message}", e);
        }
    }
}
