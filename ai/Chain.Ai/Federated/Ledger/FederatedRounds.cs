using System.Diagnostics;
using System.Globalization;
using Chain.Accel;
using Chain.Chaincode.Contracts;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Queries;
using Grpc.Core;

namespace Chain.Ai.Federated.Ledger;

/// <summary>A round that cannot go on: not opened, refused by the registry (budget, membership), timed out, too few updates.</summary>
public sealed class FederatedRoundException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Off-chain payloads through the nodes' blob API: puts go to this hospital's own node; gets try every node given
/// (own first) until one holds the blob, and the bytes are checked against the hash the ledger recorded
/// (<see cref="ChainClient.GetBlobAsync"/>), so a node serving other bytes is caught and skipped.
/// </summary>
public sealed class LedgerBlobs(ChainClient own, IReadOnlyList<ChainClient> others)
{
    private long _put, _fetched;

    public long BytesPut => Interlocked.Read(ref _put);

    public long BytesFetched => Interlocked.Read(ref _fetched);

    public async Task<string> PutAsync(byte[] data, CancellationToken ct)
    {
        var hash = await own.PutBlobAsync(data, ct).ConfigureAwait(false);
        Interlocked.Add(ref _put, data.Length);
        return hash.ToString();
    }

    public async Task<byte[]> GetAsync(string sha256, CancellationToken ct)
    {
        if (!Hash32.TryParse(sha256, out var hash)) throw new FederatedPayloadException($"'{sha256}' is not a SHA-256");
        var problems = new List<string>();
        foreach (var node in others.Prepend(own))
        {
            try
            {
                if (await node.GetBlobAsync(hash, ct).ConfigureAwait(false) is { } data)
                {
                    Interlocked.Add(ref _fetched, data.Length);
                    return data;
                }
                problems.Add("not held");
            }
            catch (Exception e) when (e is RpcException or InvalidDataException)
            {
                problems.Add(e is RpcException r ? r.StatusCode.ToString() : e.Message);
            }
        }
        throw new FederatedPayloadException($"no node serves blob {sha256} ({string.Join("; ", problems)})");
    }
}

/// <summary>What a hospital trains locally: from the round's global model to its update.</summary>
public interface ILocalLearner
{
    int ParameterCount { get; }

    /// <summary>The update (local model minus <paramref name="global"/>) and the number of examples behind it.</summary>
    (float[] Delta, int Examples) Train(float[] global, string round);
}

/// <summary>Timings and sizes of one participant's round.</summary>
public sealed record Participation(string Round, string UpdateSha256, decimal Epsilon, int Examples, long UploadBytes, TimeSpan Training, ulong Height);

/// <summary>
/// One hospital's side of a ledger-coordinated round: waits for the round to be opened with it as a participant, fetches
/// the base model the registry names, trains on its own data, stores its update on its own node, and records the update's
/// hash and the epsilon it spent with <c>fl.submit</c> (the registry refuses it if the consortium budget would be exceeded).
/// With <paramref name="sealUpdates"/>, the update is sealed (<see cref="SealedBox"/>: X25519 + ChaCha20-Poly1305) to the
/// coordinator's custody key registered on chain, bound to the chain, round, coordinator and sender, so other members and
/// auditors who fetch the blob by its hash see only ciphertext.
/// </summary>
public sealed class RoundParticipant(ChainClient client, string organisation, LedgerBlobs blobs, ILocalLearner learner, bool sealUpdates = false)
{
    public string Organisation { get; } = organisation;

    public async Task<Participation> TakePartAsync(string round, decimal epsilon, TimeSpan timeout, CancellationToken ct = default)
    {
        var record = await RoundWaiter.WaitAsync(client, round, r => r.Status == "open" || r.Updates.ContainsKey(Organisation), timeout,
            "to be opened", ct).ConfigureAwait(false);
        if (!record.Participants.Contains(Organisation))
            throw new FederatedRoundException($"{Organisation} is not a participant of round {round}");
        if (record.Updates.ContainsKey(Organisation))
            throw new FederatedRoundException($"{Organisation} already submitted to round {round}");
        if (record.BaseSha256 is not { } baseSha)
            throw new FederatedRoundException($"round {round} names no base model");
        var global = FederatedPayload.DecodeExpected(await blobs.GetAsync(baseSha, ct).ConfigureAwait(false), PayloadKind.Model, round,
            record.Coordinator, learner.ParameterCount).Values;
        var watch = Stopwatch.StartNew();
        var (delta, examples) = learner.Train(global, round);
        var training = watch.Elapsed;
        var payload = new FederatedPayload(PayloadKind.Update, round, Organisation, examples, delta).Encode();
        if (sealUpdates)
        {
            var key = await new CustodyQueries(client.State).GetCustodyKeyAsync(record.Coordinator, ct).ConfigureAwait(false)
                      ?? throw new FederatedRoundException($"the coordinator {record.Coordinator} has no custody key registered on chain to seal updates to");
            var chainId = (await client.StatusAsync(ct).ConfigureAwait(false)).ChainId;
            payload = SealedBox.Seal(payload, key, UpdateSeal.Context(chainId, round, record.Coordinator, Organisation));
        }
        var sha = await blobs.PutAsync(payload, ct).ConfigureAwait(false);
        var result = await client.SubmitAsync(FederatedRoundContract.ContractId, "submit",
            [round, sha, epsilon.ToString(CultureInfo.InvariantCulture)], cancellationToken: ct).ConfigureAwait(false);
        if (!result.Succeeded) throw new FederatedRoundException($"the registry refused {Organisation}'s update to round {round}: {result.Error}");
        return new Participation(round, sha, epsilon, examples, payload.Length, training, result.Height);
    }
}

/// <summary>An update the coordinator left out, and why.</summary>
public sealed record ExcludedUpdate(string Participant, string Reason);

/// <summary>The result of a coordinated round.</summary>
public sealed record RoundOutcome(
    string Round, string BaseSha256, string AggregateSha256, float[] Global, IReadOnlyList<string> Included,
    IReadOnlyList<ExcludedUpdate> Excluded, IReadOnlyList<string> Missing, decimal EpsilonSpent, long BytesFetched, TimeSpan Elapsed);

/// <summary>
/// The coordinating hospital's side: stores the global model as a blob, opens the round naming it
/// (<c>fl.open(round, dataset, rule, participants, base)</c>), waits for the participants' updates to be recorded, fetches
/// each by the hash on the ledger, refuses payloads that do not decode or belong to another round, sender or model size
/// (the sender is left out, not trusted), aggregates with the rule, stores the new global model and records its hash
/// with <c>fl.close</c>. With <paramref name="openWith"/> (its custody key pair, whose public half is registered on
/// chain), every update must be sealed to it; one that does not open is left out.
/// </summary>
public sealed class RoundCoordinator(ChainClient client, string organisation, LedgerBlobs blobs, CustodyKeyPair? openWith = null)
{
    public string Organisation { get; } = organisation;

    public async Task<RoundOutcome> RunAsync(string round, string dataset, string ruleName, IAggregationRule rule,
        IReadOnlyList<string> participants, float[] global, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(global);
        var watch = Stopwatch.StartNew();
        var fetchedBefore = blobs.BytesFetched;
        var baseSha = await blobs.PutAsync(new FederatedPayload(PayloadKind.Model, round, Organisation, 0, global).Encode(), ct)
            .ConfigureAwait(false);
        var opened = await client.SubmitAsync(FederatedRoundContract.ContractId, "open",
            [round, dataset, ruleName, string.Join(",", participants), baseSha], cancellationToken: ct).ConfigureAwait(false);
        if (!opened.Succeeded) throw new FederatedRoundException($"the registry refused to open round {round}: {opened.Error}");

        var expected = participants.Distinct().Count();
        FederatedRound record;
        try
        {
            record = await RoundWaiter.WaitAsync(client, round, r => r.Updates.Count >= expected, timeout, "to receive every update", ct)
                .ConfigureAwait(false);
        }
        catch (FederatedRoundException)
        {
            record = await new RoundQueries(client.State).GetRoundAsync(round, ct).ConfigureAwait(false)
                     ?? throw new FederatedRoundException($"round {round} disappeared");
        }
        var missing = record.Participants.Where(p => !record.Updates.ContainsKey(p)).ToList();
        var updates = new List<ClientUpdate>();
        var excluded = new List<ExcludedUpdate>();
        var chainId = openWith is null ? "" : (await client.StatusAsync(ct).ConfigureAwait(false)).ChainId;
        foreach (var (participant, sha) in record.Updates.OrderBy(u => u.Key, StringComparer.Ordinal))
        {
            try
            {
                var bytes = await blobs.GetAsync(sha, ct).ConfigureAwait(false);
                if (openWith is not null)
                {
                    try
                    {
                        bytes = SealedBox.Open(bytes, openWith, UpdateSeal.Context(chainId, round, Organisation, participant));
                    }
                    catch (CustodyException e)
                    {
                        throw new FederatedPayloadException($"the update is not sealed to the coordinator: {e.Message}");
                    }
                }
                var p = FederatedPayload.DecodeExpected(bytes, PayloadKind.Update, round, participant, global.Length);
                updates.Add(new ClientUpdate(participant, p.Values, Math.Max(1, p.Examples)));
            }
            catch (FederatedPayloadException e)
            {
                excluded.Add(new ExcludedUpdate(participant, e.Message));
            }
        }
        if (updates.Count < 2)
            throw new FederatedRoundException($"round {round}: {updates.Count} usable updates (need 2); missing: {string.Join(", ", missing)}; "
                                              + $"excluded: {string.Join("; ", excluded.Select(x => $"{x.Participant}: {x.Reason}"))}");
        var delta = rule.Aggregate(updates);
        var next = new float[global.Length];
        for (var i = 0; i < next.Length; i++) next[i] = global[i] + delta[i];
        var aggregateSha = await blobs.PutAsync(new FederatedPayload(PayloadKind.Model, round, Organisation, updates.Sum(u => u.Examples), next).Encode(), ct)
            .ConfigureAwait(false);
        var closed = await client.SubmitAsync(FederatedRoundContract.ContractId, "close", [round, aggregateSha], cancellationToken: ct)
            .ConfigureAwait(false);
        if (!closed.Succeeded) throw new FederatedRoundException($"the registry refused to close round {round}: {closed.Error}");
        return new RoundOutcome(round, baseSha, aggregateSha, next, [.. updates.Select(u => u.Client)], excluded, missing,
            record.Epsilon.Values.Sum(), blobs.BytesFetched - fetchedBefore, watch.Elapsed);
    }
}

/// <summary>What a sealed update is bound to: the chain, the round, the coordinator it is sealed to and its sender.</summary>
public static class UpdateSeal
{
    public static SealContext Context(string chainId, string round, string coordinator, string sender) =>
        new(chainId, round, 0, coordinator, "fl-update/" + sender);
}

internal static class RoundWaiter
{
    public static async Task<FederatedRound> WaitAsync(ChainClient client, string round, Func<FederatedRound, bool> done, TimeSpan timeout,
        string what, CancellationToken ct)
    {
        var queries = new RoundQueries(client.State);
        var deadline = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var record = await queries.GetRoundAsync(round, ct).ConfigureAwait(false);
            if (record is not null && done(record)) return record;
            if (deadline.Elapsed >= timeout)
                throw new FederatedRoundException($"round {round} did not come {what} within {timeout.TotalSeconds:0.#} s"
                                                  + (record is null ? " (not opened)" : $" ({record.Updates.Count} of {record.Participants.Count} updates)"));
            await Task.Delay(delay, ct).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(500, delay.TotalMilliseconds * 1.5));
        }
    }
}
