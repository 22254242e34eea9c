using System.Text;
using Chain.Accel;
using Chain.Chaincode.Contracts;
using Chain.Ledger.Model;

namespace Chain.Client.Custody;

/// <summary>A custodian's registered X25519 key (<c>custody/keys/&lt;org&gt;</c>).</summary>
public sealed record CustodianKey(string Organisation, string PublicKeyHex);

/// <summary>
/// A call to the custody contract, prepared off line (dealing, re-encrypting and checking happen here, signing happens
/// where the member's key is): submit it with <see cref="ToTransaction"/> or <see cref="CustodyCallExtensions.SubmitAsync"/>.
/// </summary>
public sealed record CustodyCall(string Function, IReadOnlyList<string> Args)
{
    public const string Contract = ShareCustodyContract.ContractId;

    public IReadOnlyList<byte[]> EncodedArgs() => [.. Args.Select(Encoding.UTF8.GetBytes)];

    /// <summary>Signs the call as a transaction to the custody contract.</summary>
    public Transaction ToTransaction(string chainId, ulong nonce, SigningKey key) =>
        Transaction.Create(chainId, Contract, Function, [.. EncodedArgs().Select(a => (ReadOnlyMemory<byte>)a)], nonce, key);

    public static CustodyCall RegisterKey(CustodyKeyPair key) => new("register-key", [key.PublicKeyHex]);

    public static CustodyCall Request(string id, string requestId, string requesterPublicKeyHex) =>
        new("request", [id, requestId, requesterPublicKeyHex]);

    public static CustodyCall Replace(string id, string oldCustodian, string newCustodian) =>
        new("replace", [id, oldCustodian, newCustodian]);

    public static CustodyCall Ack(string id) => new("ack", [id]);

    /// <summary>Reveals a share that does not verify (lowercase hex of the scalar) so the contract can expose the dealer.</summary>
    public static CustodyCall Complain(string id, string shareHex) => new("complain", [id, shareHex]);

    public override string ToString() => $"custody.{Function}({string.Join(", ", Args.Select(a => a.Length > 40 ? a[..37] + "..." : a))})";
}

public static class CustodyCallExtensions
{
    /// <summary>Signs <paramref name="call"/> with the client's key (next nonce) and submits it to the custody contract.</summary>
    public static Task<SubmitResult> SubmitAsync(this ChainClient client, CustodyCall call, bool wait = true, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        client.SubmitAsync(CustodyCall.Contract, call.Function, call.EncodedArgs(), wait, timeout, cancellationToken);
}
