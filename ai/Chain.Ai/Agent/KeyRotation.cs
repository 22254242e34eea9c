using Chain.Chaincode.Contracts;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Queries;

namespace Chain.Ai.Agent;

/// <summary>A RotateKeys decision handed to the key-rotation worker.</summary>
/// <param name="Step">The agent's step of the decision.</param>
/// <param name="Device">The device index the decision was about.</param>
/// <param name="DeviceName">Its name (as logged).</param>
/// <param name="DecidedAtUnixMs">When the agent decided (its clock).</param>
public sealed record KeyRotationRequest(long Step, int Device, string DeviceName, long DecidedAtUnixMs);

/// <summary>
/// Carries out a key rotation off the decision path (the agent's background worker calls it, one at a time). An
/// exception counts the rotation as failed; the worker goes on with the next request.
/// </summary>
public interface IKeyRotationHandler
{
    Task RotateAsync(KeyRotationRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Key rotation as a share refresh of one custody record (the model weights' key, see <see cref="OnChain.WeightsVault"/>):
/// reads the record and the custodians' registered custody keys from this client's node, prepares a zero-secret refresh
/// (<see cref="Dealer.PrepareRefresh"/>: every custodian's share changes, the secret does not, the epoch advances; the
/// custodians then acknowledge their new shares) and submits it, waiting for the commit. The client's organisation must
/// be the record's dealer or one of its custodians (the contract checks).
/// <para>What this rotates is the custody shares of the model key, the one key the consortium keeps on chain; rotating a
/// device's own credentials is the device management system's job, outside this chain.</para>
/// </summary>
public sealed class CustodyKeyRotation : IKeyRotationHandler
{
    private readonly ChainClient _client;
    private readonly TimeSpan _timeout;
    private int _lastEpoch = -1;

    /// <param name="client">A custodian's (or the dealer's) client, with its signing key.</param>
    /// <param name="chainId">The chain id (share seals bind to it).</param>
    /// <param name="custodyId">The custody record to refresh.</param>
    /// <param name="timeout">How long a refresh waits for its commit (default 30 s, at most 60 s).</param>
    public CustodyKeyRotation(ChainClient client, string chainId, string custodyId, TimeSpan? timeout = null)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        ArgumentException.ThrowIfNullOrEmpty(chainId);
        if (custodyId is null || !ContractNames.IsName(custodyId))
            throw new ArgumentException($"custody id '{custodyId}' must be {ContractNames.Rule}", nameof(custodyId));
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        if (_timeout <= TimeSpan.Zero || _timeout > TimeSpan.FromMinutes(1))
            throw new ArgumentOutOfRangeException(nameof(timeout), _timeout, "the commit wait must be more than 0 and at most 60 s");
        ChainId = chainId;
        CustodyId = custodyId;
    }

    public string ChainId { get; }

    public string CustodyId { get; }

    /// <summary>The epoch the last successful refresh moved the record to (-1 before any).</summary>
    public int LastEpoch => Volatile.Read(ref _lastEpoch);

    /// <summary>
    /// Refreshes the record and waits for the commit. Throws <see cref="CustodyException"/> when the record or a
    /// custodian's key is missing, <see cref="TransactionFailedException"/> when the refresh is refused or not committed
    /// in time.
    /// </summary>
    public async Task RotateAsync(KeyRotationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var queries = new CustodyQueries(_client.State);
        var record = await queries.GetRecordAsync(CustodyId, cancellationToken).ConfigureAwait(false)
            ?? throw new CustodyException($"custody record {CustodyId} is not on this node's ledger");
        var keys = new List<CustodianKey>(record.Custodians.Count);
        foreach (var c in record.Custodians)
        {
            var hex = await queries.GetCustodyKeyAsync(c, cancellationToken).ConfigureAwait(false)
                ?? throw new CustodyException($"custodian {c} of {CustodyId} has no registered custody key");
            keys.Add(new CustodianKey(c, hex));
        }
        var call = Dealer.PrepareRefresh(ChainId, record, keys);
        var result = await _client.SubmitAsync(call, wait: true, _timeout, cancellationToken).ConfigureAwait(false);
        result.EnsureSucceeded($"refresh of {CustodyId} (for {request.DeviceName})");
        Volatile.Write(ref _lastEpoch, record.Epoch + 1);
    }
}
