using System.Text;
using Chain.Accel;
using Chain.Api.Tls;
using Chain.Api.V1;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Testnet.Cluster;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chain.Testnet.Load;

/// <summary>
/// Submits kv puts (~200 bytes each, Ed25519-signed) to the testnet's nodes over mutual TLS as several hospital
/// application identities (clients/*-app*), each with its own certificate, signing key and connection per node,
/// and waits for the commit (wait_for_commit).
/// </summary>
internal sealed class GrpcSubmitter : ITxSubmitter, IDisposable
{
    public const int TargetTransactionBytes = 200;
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);

    private readonly string _chainId;
    private readonly List<Identity> _identities = [];
    private readonly ulong _nonceBase = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
    private readonly byte[] _padding;
    private readonly uint _commitTimeoutMs;

    public GrpcSubmitter(TestnetLayout layout, Manifest manifest, int? clients, TimeSpan commitTimeout)
    {
        var candidates = manifest.Clients.Where(c => c.IsLoadClient).ToList();
        if (candidates.Count == 0) throw new TestnetException("the manifest lists no hospital application clients");
        var count = clients ?? Math.Min(candidates.Count, 8);
        if (count < 1 || count > candidates.Count)
            throw new ArgumentException($"--clients must be between 1 and {candidates.Count} (the hospital applications of this testnet)");
        // Take the first application of each hospital before any second one, so load comes from every organisation.
        var chosen = candidates.OrderBy(c => c.Name.EndsWith("-app", StringComparison.Ordinal) ? 0 : 1).ThenBy(c => c.Name).Take(count);
        _chainId = manifest.ChainId;
        _commitTimeoutMs = (uint)Math.Clamp(commitTimeout.TotalMilliseconds, 100, 60_000);
        var cas = manifest.TrustedCas(layout).ToList();
        foreach (var client in chosen)
        {
            var dir = layout.Absolute(client.Dir);
            var tls = MutualTls.Load(Path.Combine(dir, "tls.crt"), Path.Combine(dir, "tls.key"), cas);
            var channels = manifest.Nodes.OrderBy(n => n.Id)
                .Select(n => tls.CreateChannel($"127.0.0.1:{n.ListenPort}", connectTimeout: TimeSpan.FromSeconds(3))).ToList();
            _identities.Add(new Identity(client.Name, KeyFile.Load(Path.Combine(dir, "signing.key")), channels,
                channels.Select(c => new Api.V1.Ledger.LedgerClient(c)).ToList()));
        }
        Nodes = manifest.Nodes.Count;
        var sample = Build(_identities[0], 0, []);
        _padding = new byte[Math.Max(0, TargetTransactionBytes - sample.Length)];
        Random.Shared.NextBytes(_padding);
    }

    public int Nodes { get; }

    public int Clients => _identities.Count;

    public IEnumerable<string> ClientNames => _identities.Select(i => i.Name);

    public int TransactionBytes => Prepare(0, 0).Length;

    public byte[] Prepare(int client, long sequence) => Build(_identities[client], sequence, _padding);

    private byte[] Build(Identity identity, long sequence, byte[] value)
    {
        var nonce = checked(_nonceBase + (ulong)sequence);
        var key = Encoding.UTF8.GetBytes($"load/{identity.Name}/{nonce:D20}");
        return Transaction.Create(_chainId, "kv", "put", new ReadOnlyMemory<byte>[] { key, value }, nonce, identity.Key)
            .Encoded.ToArray();
    }

    public async Task<SubmitOutcome> SubmitAsync(int client, int node, byte[] transaction, CancellationToken cancellation)
    {
        var request = new SubmitRequest
        {
            Transaction = ByteString.CopyFrom(transaction),
            WaitForCommit = true,
            TimeoutMs = _commitTimeoutMs,
        };
        try
        {
            var response = await _identities[client].Clients[node].SubmitAsync(request,
                deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(_commitTimeoutMs) + Slack,
                cancellationToken: cancellation).ConfigureAwait(false);
            return response.Status switch
            {
                TxStatus.Committed => SubmitOutcome.Committed,
                TxStatus.Rejected => new SubmitOutcome(SubmitResult.Rejected, string.IsNullOrEmpty(response.Reason) ? "rejected" : response.Reason),
                TxStatus.Pending => new SubmitOutcome(SubmitResult.Pending),
                _ => new SubmitOutcome(SubmitResult.Failed, $"unexpected status {response.Status}"),
            };
        }
        catch (RpcException e)
        {
            var reason = $"{e.StatusCode}: {e.Status.Detail.Split('\n')[0]}";
            return e.StatusCode is StatusCode.InvalidArgument or StatusCode.PermissionDenied or StatusCode.FailedPrecondition
                or StatusCode.ResourceExhausted or StatusCode.AlreadyExists or StatusCode.Unauthenticated
                ? new SubmitOutcome(SubmitResult.Rejected, reason)
                : new SubmitOutcome(SubmitResult.Failed, reason);
        }
    }

    /// <summary>Opens every connection (TLS handshakes) before measuring; returns the nodes that did not answer.</summary>
    public async Task<IReadOnlyList<int>> WarmUpAsync(CancellationToken cancellation)
    {
        var unreachable = new HashSet<int>();
        var calls = _identities.SelectMany(identity => identity.Clients.Select(async (client, node) =>
        {
            try
            {
                await client.GetStatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(3),
                    cancellationToken: cancellation).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                lock (unreachable) unreachable.Add(node);
            }
        }));
        await Task.WhenAll(calls).ConfigureAwait(false);
        return unreachable.Order().ToList();
    }

    public void Dispose()
    {
        foreach (var identity in _identities)
        {
            foreach (var channel in identity.Channels) channel.Dispose();
            identity.Key.Dispose();
        }
    }

    private sealed record Identity(string Name, SigningKey Key, List<GrpcChannel> Channels, List<Api.V1.Ledger.LedgerClient> Clients);
}
