using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Security;
using System.Text;
using Chain.Accel;
using Chain.Api.Tls;
using Chain.Api.V1;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Google.Protobuf;
using Grpc.Net.Client;
using LedgerClient = Chain.Api.V1.Ledger.LedgerClient;
using PeerClient = Chain.Api.V1.Peer.PeerClient;

namespace Chain.Node.Tests.Cluster;

/// <summary>A transaction a node acknowledged: Submit returned (COMMITTED or PENDING) rather than failing.</summary>
internal sealed record Ack(string TxId, int Node, TxStatus Status, ulong Height, byte[] Key, byte[] Value, TimeSpan At);

/// <summary>
/// Every transaction the tests tried to submit, and every one a node acknowledged. The safety check at the end of
/// each test: every acknowledged transaction is in the final ledger of every node, and the ledger holds nothing
/// that was never submitted.
/// </summary>
internal sealed class AckBook
{
    private readonly ConcurrentDictionary<string, Ack> _acked = new();
    private readonly ConcurrentDictionary<string, byte> _attempted = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public TimeSpan Now => _clock.Elapsed;

    public void Attempt(Transaction tx) => _attempted.TryAdd(tx.Id.ToString(), 0);

    public void Attempt(string txId) => _attempted.TryAdd(txId, 0);

    public bool WasAttempted(string txId) => _attempted.ContainsKey(txId);

    public void Acknowledge(Transaction tx, int node, SubmitResponse response)
    {
        var (key, value) = tx.Contract == "kv" && tx.Function == "put" && tx.Args.Count == 2
            ? (tx.Args[0].ToArray(), tx.Args[1].ToArray())
            : ([], []);
        var ack = new Ack(tx.Id.ToString(), node, response.Status, response.Height, key, value, _clock.Elapsed);
        // Keep the first acknowledgement, but a later COMMITTED (a retry) upgrades a PENDING one.
        _acked.AddOrUpdate(ack.TxId, ack, (_, old) => old.Status != TxStatus.Committed && ack.Status == TxStatus.Committed ? ack : old);
    }

    public IReadOnlyList<Ack> Acked => [.. _acked.Values];

    public int AttemptedCount => _attempted.Count;
}

/// <summary>
/// One identity talking to every node of a cluster over mutual TLS (one channel per node, reconnecting quickly after
/// a node restarts), signing kv puts with its key (when it has one) and recording acknowledgements.
/// </summary>
internal sealed class ClusterClient : IDisposable
{
    private readonly GrpcChannel[] _channels;
    private readonly SigningKey? _key;
    private readonly string _chainId;
    private readonly AckBook _book;
    private long _nonce = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;

    public ClusterClient(string name, Func<SslClientAuthenticationOptions> ssl, SigningKey? key, string chainId,
        IEnumerable<int> ports, AckBook book)
    {
        Name = name;
        _key = key;
        _chainId = chainId;
        _book = book;
        _channels = ports.Select(p => Channel(ssl(), p)).ToArray();
    }

    public static ClusterClient Load(string name, string certificate, string tlsKey, string? signingKey, TestCluster cluster)
    {
        var tls = MutualTls.Load(certificate, tlsKey, cluster.Manifest.TrustedCas(cluster.Layout));
        var key = signingKey is not null && File.Exists(signingKey) ? KeyFile.Load(signingKey) : null;
        return new ClusterClient(name, () => tls.ClientOptions(), key, cluster.Genesis.ChainId, cluster.All.Select(cluster.ListenPort),
            cluster.Book);
    }

    public string Name { get; }

    public SigningKey Key => _key ?? throw new InvalidOperationException($"{Name} has no signing key");

    /// <summary>
    /// A gRPC channel over TLS with <paramref name="ssl"/>, like <see cref="MutualTls.CreateChannel"/> but retrying a
    /// refused connection within a second (grpc's default back-off grows to two minutes, longer than a node restart).
    /// </summary>
    public static GrpcChannel Channel(SslClientAuthenticationOptions ssl, int port) =>
        GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = ssl,
                ConnectTimeout = TimeSpan.FromSeconds(3),
                EnableMultipleHttp2Connections = true,
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            },
            MaxReceiveMessageSize = 64 << 20,
            MaxSendMessageSize = 64 << 20,
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(200),
            MaxReconnectBackoff = TimeSpan.FromSeconds(1),
        });

    public LedgerClient Ledger(int node) => new(_channels[node]);

    public PeerClient Peer(int node) => new(_channels[node]);

    public Blobs.BlobsClient Blobs(int node) => new(_channels[node]);

    public ulong NextNonce() => (ulong)Interlocked.Increment(ref _nonce);

    /// <summary>A signed kv put of <paramref name="value"/> at <paramref name="key"/> (a fresh nonce each time).</summary>
    public Transaction Put(string key, ReadOnlyMemory<byte> value, LedgerLimits? limits = null) =>
        Transaction.Create(_chainId, "kv", "put", [Encoding.UTF8.GetBytes(key), value], NextNonce(), Key, limits);

    /// <summary>
    /// Submits <paramref name="tx"/> to <paramref name="node"/> (by default waiting for the commit); records the attempt and,
    /// when the call returns, the acknowledgement. Refusals and transport failures throw <see cref="Grpc.Core.RpcException"/>.
    /// </summary>
    public async Task<SubmitResponse> SubmitAsync(int node, Transaction tx, bool waitForCommit = true, uint timeoutMs = 20_000,
        CancellationToken cancellation = default)
    {
        _book.Attempt(tx);
        var response = await Ledger(node).SubmitAsync(new SubmitRequest
        {
            Transaction = ByteString.CopyFrom(tx.Encoded),
            WaitForCommit = waitForCommit,
            TimeoutMs = timeoutMs,
        }, deadline: DateTime.UtcNow.AddMilliseconds(timeoutMs).AddSeconds(10), cancellationToken: cancellation);
        _book.Acknowledge(tx, node, response);
        if (response.TxId != tx.Id.ToString())
            throw new InvalidOperationException($"node {node} answered tx_id {response.TxId} for transaction {tx.Id}");
        return response;
    }

    public void Dispose()
    {
        foreach (var channel in _channels) channel.Dispose();
        _key?.Dispose();
    }
}
