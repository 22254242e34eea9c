using System.Threading.Channels;
using Chain.Api.Tls;
using Chain.Api.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chain.Node;

/// <summary>Where a peer is and who it must prove to be (organisation CA and common name).</summary>
internal sealed record PeerAddress(ushort Id, string Address, string Organisation)
{
    public string CommonName => $"node-{Id}";
}

/// <summary>
/// Outbound side of the peer transport: one long-lived gRPC client stream per peer over mutual TLS, each fed from
/// a bounded queue (oldest frames are dropped first when a peer is slow or away, and counted, so a slow peer can
/// never exhaust memory; consensus recovers lost messages through its timeouts and state transfer). A broken
/// stream is re-opened with exponential back-off (100 ms doubling to 5 s).
/// </summary>
internal sealed class PeerNetwork : IAsyncDisposable
{
    private readonly Dictionary<ushort, PeerLink> _links = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

    public PeerNetwork(IEnumerable<PeerAddress> peers, MutualTls tls, NodeMetrics metrics, ILogger logger, int queueCapacity)
    {
        foreach (var p in peers) _links[p.Id] = new PeerLink(p, tls, metrics, logger, queueCapacity);
    }

    public int Connected => _links.Values.Count(l => l.IsConnected);

    /// <summary>
    /// Peers this node can talk with both ways: its stream to them is open and a frame from them arrived within the
    /// last two seconds (every peer announces progress several times a second). A restarted node's own streams open
    /// at once, but its peers re-dial it on their back-off schedule; until they do, it hears nothing.
    /// </summary>
    public int Reachable
    {
        get
        {
            var now = Environment.TickCount64;
            return _links.Values.Count(l => l.IsConnected && now - Volatile.Read(ref l.LastHeard) < 2_000);
        }
    }

    /// <summary>Records that a frame from <paramref name="peer"/> arrived (called by the inbound stream).</summary>
    public void Heard(ushort peer)
    {
        if (_links.TryGetValue(peer, out var link)) Volatile.Write(ref link.LastHeard, Environment.TickCount64);
    }

    public IReadOnlyCollection<ushort> PeerIds => _links.Keys;

    public void Start()
    {
        foreach (var link in _links.Values) _loops.Add(Task.Run(() => link.RunAsync(_stop.Token)));
    }

    public void Send(ushort to, byte[] consensusBytes)
    {
        if (_links.TryGetValue(to, out var link)) link.Enqueue(new PeerFrame { Consensus = ByteString.CopyFrom(consensusBytes) });
    }

    public void Broadcast(byte[] consensusBytes)
    {
        var frame = new PeerFrame { Consensus = ByteString.CopyFrom(consensusBytes) };
        foreach (var link in _links.Values) link.Enqueue(frame);
    }

    public void Gossip(IReadOnlyList<byte[]> transactions)
    {
        var batch = new TransactionBatch();
        foreach (var t in transactions) batch.Transactions.Add(ByteString.CopyFrom(t));
        var frame = new PeerFrame { Transactions = batch };
        foreach (var link in _links.Values) link.Enqueue(frame);
    }

    /// <summary>Committed blocks [from, to] from one peer, as canonical bytes (unverified: the caller checks them).</summary>
    public async IAsyncEnumerable<BlockBytes> GetBlocks(ushort peer, ulong from, ulong to,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        if (!_links.TryGetValue(peer, out var link)) yield break;
        using var call = new Peer.PeerClient(link.Transport).GetBlocks(new BlockRangeRequest { From = from, To = to },
            deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct);
        while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false)) yield return call.ResponseStream.Current;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var link in _links.Values) link.Complete();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or RpcException)
        {
        }
        foreach (var link in _links.Values) link.Transport.Dispose();
        _stop.Dispose();
    }

    private sealed class PeerLink
    {
        private static readonly TimeSpan KeepAlive = TimeSpan.FromMilliseconds(500);
        private readonly PeerAddress _peer;
        private readonly ILogger _logger;
        private readonly Channel<PeerFrame> _queue;
        private volatile bool _connected;

        /// <summary>When a frame from this peer last arrived (Environment.TickCount64 milliseconds).</summary>
        public long LastHeard = long.MinValue / 2;

        public PeerLink(PeerAddress peer, MutualTls tls, NodeMetrics metrics, ILogger logger, int capacity)
        {
            _peer = peer;
            _logger = logger;
            _queue = Channel.CreateBounded<PeerFrame>(new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
            }, _ => metrics.PeerQueueDropped.Inc());
            Transport = tls.CreateChannel(peer.Address,
                id => id.Organisation == peer.Organisation && id.CommonName == peer.CommonName, TimeSpan.FromSeconds(2));
        }

        public GrpcChannel Transport { get; }
        public bool IsConnected => _connected;

        public void Enqueue(PeerFrame frame) => _queue.Writer.TryWrite(frame);

        public void Complete() => _queue.Writer.TryComplete();

        public async Task RunAsync(CancellationToken ct)
        {
            var backoff = TimeSpan.FromMilliseconds(100);
            var client = new Peer.PeerClient(Transport);
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    using var call = client.Stream(cancellationToken: ct);
                    var reader = _queue.Reader;
                    // Send a frame at once, so a dead or refusing peer is noticed without waiting for traffic.
                    await call.RequestStream.WriteAsync(new PeerFrame(), ct).ConfigureAwait(false);
                    _connected = true;
                    backoff = TimeSpan.FromMilliseconds(100);
                    _logger.LogInformation("peer {Peer} connected at {Address}", _peer.Id, _peer.Address);
                    Task<bool>? ready = null;
                    while (true)
                    {
                        // An empty frame every half second when idle: the peer counts this node as reachable only while
                        // it hears from it, and a dead stream is noticed without waiting for traffic. (One wait is kept
                        // across idle periods, so waits do not pile up.)
                        ready ??= reader.WaitToReadAsync(ct).AsTask();
                        if (await Task.WhenAny(ready, Task.Delay(KeepAlive, ct)).ConfigureAwait(false) != ready)
                        {
                            await call.RequestStream.WriteAsync(new PeerFrame(), ct).ConfigureAwait(false);
                            continue;
                        }
                        if (!await ready.ConfigureAwait(false)) return;
                        ready = null;
                        while (reader.TryRead(out var frame)) await call.RequestStream.WriteAsync(frame, ct).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (!ct.IsCancellationRequested && e is RpcException or IOException or InvalidOperationException or HttpRequestException)
                {
                    if (_connected) _logger.LogWarning("peer {Peer} disconnected: {Reason}", _peer.Id, e.Message);
                    _connected = false;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                try
                {
                    await Task.Delay(backoff, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5000));
            }
        }
    }
}
