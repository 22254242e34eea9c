using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Chain.Api.Tls;
using Chain.Api.V1;
using Chain.Ledger;
using Chain.Ledger.Model;
using Chain.Testnet.Cluster;
using Google.Protobuf;
using Grpc.Core;
using Xunit.Abstractions;

namespace Chain.Node.Tests.Cluster;

/// <summary>One cluster shared by the hostile-input tests (none of them is meant to disturb it).</summary>
public sealed class SharedCluster : IAsyncLifetime
{
    public const int BasePort = 22600;

    internal TestLog Log { get; } = new(null);
    internal TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(BasePort, Log);

    public async Task DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
    }
}

/// <summary>
/// Strangers, wrong roles and garbage: certificates from an unknown CA are refused at the TLS handshake, consortium
/// clients cannot speak as peers, malformed and oversized messages get typed errors, garbage from a genuine peer is
/// ignored, and after each test the nodes are up, commit, and agree.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", ClusterCollection.Category)]
public sealed class HostileInputTests : IClassFixture<SharedCluster>
{
    private readonly TestCluster _cluster;
    private readonly TestLog _log;

    public HostileInputTests(SharedCluster shared, ITestOutputHelper output)
    {
        _cluster = shared.Cluster;
        _log = shared.Log;
        _log.Attach(output);
    }

    // ---- Test 5: who may connect.

    [Fact]
    public async Task A_certificate_from_an_unknown_ca_is_refused_at_the_tls_handshake()
    {
        var now = DateTimeOffset.UtcNow;
        // Same organisation name and common name as node 1, but a CA the consortium never heard of.
        using var rogueCa = OrganisationCa.Create("hospital-b", now);
        using var rogue = rogueCa.Issue("node-1", node: true, now);

        foreach (var node in new[] { 0, 2 })
        {
            var refusal = await RawHandshakeAsync(node, rogue);
            _log.Line($"node {node}, raw TLS with a rogue 'node-1' certificate: {refusal}");

            using var impostor = Impostor("rogue node-1", rogue);
            var status = await Assert.ThrowsAsync<RpcException>(() => impostor.Ledger(node).GetStatusAsync(new StatusRequest(),
                deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
            AssertRefusedBeforeTheApplication(status, "GetStatus");
            var stream = await PeerStreamErrorAsync(impostor, node, Garbage(16));
            Assert.NotNull(stream);
            AssertRefusedBeforeTheApplication(stream, "Peer.Stream");
            _log.Line($"node {node}: GetStatus -> {status.StatusCode}, Peer.Stream -> {stream.StatusCode}");
        }

        // No certificate at all.
        using var anonymous = new ClusterClient("anonymous", () => new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }, null, _cluster.Genesis.ChainId, _cluster.All.Select(_cluster.ListenPort), _cluster.Book);
        var none = await Assert.ThrowsAsync<RpcException>(() => anonymous.Ledger(0).GetStatusAsync(new StatusRequest(),
            deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        AssertRefusedBeforeTheApplication(none, "GetStatus without a client certificate");

        await AssertHealthyAsync();
    }

    [Fact]
    public async Task Consortium_certificates_that_are_not_another_validator_cannot_open_a_peer_stream()
    {
        var now = DateTimeOffset.UtcNow;
        var cases = new List<(string What, ClusterClient Client, int Node)>
        {
            ("client hospital-a-app", _cluster.Client("hospital-a-app"), 1),
            ("auditor-1", _cluster.Client("auditor-1"), 2),
        };
        // "node-1" issued by hospital-a's genuine CA: node 1 belongs to hospital-b.
        using (var caA = OrganisationCa.Load("hospital-a", _cluster.Layout.CaCertificate("hospital-a"), _cluster.Layout.CaKey("hospital-a")))
        {
            cases.Add(("'node-1' from hospital-a's CA", Impostor("node-1 of the wrong organisation", caA.Issue("node-1", node: true, now)), 0));
        }
        // Node 0's own genuine certificate, calling node 0 (a validator is not its own peer).
        cases.Add(("node 0 to itself", NodeIdentity(0), 0));

        foreach (var (what, client, node) in cases)
        {
            var error = await PeerStreamErrorAsync(client, node, Garbage(4));
            Assert.True(error is { StatusCode: StatusCode.PermissionDenied },
                $"{what} opening Peer.Stream to node {node}: expected PERMISSION_DENIED, got {error?.Status.ToString() ?? "OK"}");
            if (what == "node 0 to itself")
            {
                _log.Line($"{what}: Peer.Stream {error!.StatusCode}");
                continue;
            }
            // State transfer is for validators only, too.
            var blocks = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                using var call = client.Peer(node).GetBlocks(new BlockRangeRequest { From = 1, To = 5 }, deadline: DateTime.UtcNow.AddSeconds(10));
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                }
            });
            Assert.Equal(StatusCode.PermissionDenied, blocks.StatusCode);
            _log.Line($"{what} -> node {node}: Peer.Stream {error!.StatusCode}, Peer.GetBlocks {blocks.StatusCode}");
        }
        foreach (var (_, client, _) in cases.Skip(2)) client.Dispose();

        await AssertHealthyAsync();
    }

    // ---- Test 6: what may be sent.

    [Fact]
    public async Task Blobs_are_stored_under_their_hash_and_hostile_puts_get_typed_errors()
    {
        var hospital = _cluster.Client("hospital-b-app").Blobs(1);
        var data = Encoding.UTF8.GetBytes("federated update " + Guid.NewGuid());
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
        var put = await hospital.PutAsync(new PutBlobRequest { Sha256 = sha, Data = ByteString.CopyFrom(data) });
        Assert.Equal(sha, put.Sha256);
        Assert.False(put.AlreadyStored);
        Assert.True((await hospital.PutAsync(new PutBlobRequest { Sha256 = sha.ToUpperInvariant(), Data = ByteString.CopyFrom(data) })).AlreadyStored);

        // Anyone in the consortium reads it back from that node, auditors included; other nodes do not hold it.
        var read = await _cluster.Client("auditor-1").Blobs(1).GetAsync(new GetBlobRequest { Sha256 = sha });
        Assert.Equal(data, read.Data.ToByteArray());
        var other = await Assert.ThrowsAsync<RpcException>(() => _cluster.Client("hospital-b-app").Blobs(2).GetAsync(new GetBlobRequest { Sha256 = sha }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, other.StatusCode);

        async Task<StatusCode> PutFails(Blobs.BlobsClient client, string hash, byte[] bytes) =>
            (await Assert.ThrowsAsync<RpcException>(() => client.PutAsync(new PutBlobRequest { Sha256 = hash, Data = ByteString.CopyFrom(bytes) }).ResponseAsync)).StatusCode;

        Assert.Equal(StatusCode.InvalidArgument, await PutFails(hospital, new string('0', 64), data));      // wrong hash
        Assert.Equal(StatusCode.InvalidArgument, await PutFails(hospital, "not-a-hash", data));             // not hex
        Assert.Equal(StatusCode.InvalidArgument, await PutFails(hospital, sha[..63], data));                // too short
        var empty = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(ReadOnlySpan<byte>.Empty));
        Assert.Equal(StatusCode.InvalidArgument, await PutFails(hospital, empty, []));                      // empty
        var huge = new byte[(16 << 20) + 1];
        Assert.Equal(StatusCode.InvalidArgument, await PutFails(hospital, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(huge)), huge));
        Assert.Equal(StatusCode.PermissionDenied, await PutFails(_cluster.Client("auditor-1").Blobs(1), sha, data)); // read-only
        var badGet = await Assert.ThrowsAsync<RpcException>(() => hospital.GetAsync(new GetBlobRequest { Sha256 = "zz" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badGet.StatusCode);
        _log.Line("blob put/get, wrong hash, bad hex, empty, 16 MiB + 1, auditor put, bad get: typed refusals");
    }

    [Fact]
    public async Task ListEvidence_serves_the_nodes_records_to_an_auditor()
    {
        var ledger = _cluster.Client("auditor-1").Ledger(2);
        var all = await ledger.ListEvidenceAsync(new ListEvidenceRequest());
        Assert.False(all.Truncated);
        // Nobody equivocates here; whatever a node did record is JSON as stored.
        foreach (var record in all.Records) System.Text.Json.JsonDocument.Parse(record).Dispose();
        var one = await ledger.ListEvidenceAsync(new ListEvidenceRequest { Limit = 1 });
        Assert.True(one.Records.Count <= 1);
        Assert.Equal(all.Records.Count > 1, one.Truncated);
    }

    [Fact]
    public async Task Malformed_and_oversized_submissions_get_typed_errors()
    {
        var client = _cluster.Client("hospital-b-app");
        var ledger = client.Ledger(1);
        var garbage = await SubmitRawErrorAsync(ledger, Encoding.UTF8.GetBytes("this is not a transaction"));
        Assert.Equal(StatusCode.InvalidArgument, garbage.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, (await SubmitRawErrorAsync(ledger, [])).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, (await SubmitRawErrorAsync(ledger, new byte[10_000])).StatusCode);
        var valid = client.Put("hostile/truncated", new byte[100]);
        Assert.Equal(StatusCode.InvalidArgument, (await SubmitRawErrorAsync(ledger, valid.Encoded[..^1].ToArray())).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, (await SubmitRawErrorAsync(ledger, [.. valid.Encoded, 0])).StatusCode);

        // A properly signed transaction of 1.5 MiB: above the ledger's 1 MiB limit, below gRPC's.
        var big = client.Put("hostile/big", new byte[3 << 19], new LedgerLimits { MaxTransactionBytes = 4 << 20 });
        var tooBig = await SubmitRawErrorAsync(ledger, big.Encoded.ToArray());
        Assert.True(tooBig.StatusCode is StatusCode.InvalidArgument or StatusCode.ResourceExhausted, $"1.5 MiB transaction: {tooBig.Status}");

        // 30 MiB: above the node's gRPC message limit.
        var huge = await SubmitRawErrorAsync(ledger, new byte[30 << 20]);
        Assert.Equal(StatusCode.ResourceExhausted, huge.StatusCode);
        _log.Line($"garbage -> {garbage.Status}; 1.5 MiB -> {tooBig.Status}; 30 MiB -> {huge.Status}");

        await AssertHealthyAsync();
    }

    [Fact]
    public async Task Garbage_from_a_genuine_peer_is_ignored_and_the_nodes_keep_committing()
    {
        // Node 1's genuine certificate: accepted as a peer by the others.
        using var peer = NodeIdentity(1);
        var app = _cluster.Client("hospital-c-app");
        var random = new Random(20261123);
        var frames = new List<PeerFrame>();
        for (var i = 0; i < 300; i++)
        {
            var bytes = new byte[random.Next(0, i % 10 == 0 ? 70_000 : 600)];
            random.NextBytes(bytes);
            if (bytes.Length > 0) bytes[0] = (byte)(i % 256); // every leading tag byte
            frames.Add(new PeerFrame { Consensus = ByteString.CopyFrom(bytes) });
        }
        frames.Add(new PeerFrame { Consensus = ByteString.CopyFrom(new byte[2 << 20]) });
        frames.Add(new PeerFrame());
        var signed = app.Put("hostile/gossip-forged", new byte[32]);
        var forged = signed.Encoded.ToArray();
        forged[^1] ^= 0xff; // a broken signature: the same id as `signed`, which is never sent
        using var stranger = Chain.Accel.SigningKey.Generate();
        var unknownSender = Transaction.Create(_cluster.Genesis.ChainId, "kv", "put", [Encoding.UTF8.GetBytes("hostile/unknown"), new byte[1]], 1, stranger);
        var wrongChain = Transaction.Create("another-chain", "kv", "put", [Encoding.UTF8.GetBytes("hostile/chain"), new byte[1]], app.NextNonce(), app.Key);
        var batch = new TransactionBatch();
        for (var i = 0; i < 50; i++)
        {
            var bytes = new byte[random.Next(0, 400)];
            random.NextBytes(bytes);
            batch.Transactions.Add(ByteString.CopyFrom(bytes));
        }
        batch.Transactions.Add(ByteString.CopyFrom(forged));
        batch.Transactions.Add(ByteString.CopyFrom(unknownSender.Encoded));
        batch.Transactions.Add(ByteString.CopyFrom(wrongChain.Encoded));
        batch.Transactions.Add(ByteString.CopyFrom(new byte[(1 << 20) + 10]));
        frames.Add(new PeerFrame { Transactions = batch });
        frames.Add(new PeerFrame { Transactions = new TransactionBatch() });
        // Last, one valid transaction: when it commits, the node has read every frame before it.
        var marker = app.Put("hostile/gossip-valid", new byte[] { 42 });
        _cluster.Book.Attempt(marker);
        frames.Add(new PeerFrame { Transactions = new TransactionBatch { Transactions = { ByteString.CopyFrom(marker.Encoded) } } });

        foreach (var node in new[] { 0, 2, 3 })
        {
            var error = await PeerStreamErrorAsync(peer, node, frames);
            Assert.True(error is null, $"node {node} should take the garbage stream and answer PeerAck, got {error?.Status}");
        }
        // A frame above the gRPC limit ends that stream only.
        var oversized = await PeerStreamErrorAsync(peer, 0, [new PeerFrame { Consensus = ByteString.CopyFrom(new byte[20 << 20]) }]);
        Assert.Equal(StatusCode.ResourceExhausted, oversized?.StatusCode);
        _log.Line($"sent {frames.Count} garbage frames to nodes 0, 2, 3 as node 1; a 20 MiB frame -> {oversized!.Status}");

        await LedgerChecks.WaitUntilAsync(_cluster, "the valid gossiped transaction committed on every node", TimeSpan.FromSeconds(30), async () =>
        {
            var states = await Task.WhenAll(_cluster.All.Select(async n =>
            {
                try
                {
                    return (await _cluster.Observer.Ledger(n).GetTransactionAsync(new GetTransactionRequest { TxId = marker.Id.ToString() },
                        deadline: DateTime.UtcNow.AddSeconds(5))).Status.ToString();
                }
                catch (RpcException e)
                {
                    return e.StatusCode.ToString();
                }
            }));
            return (states.All(s => s == nameof(TxStatus.Committed)), string.Join(", ", states));
        });
        foreach (var node in _cluster.All)
        {
            foreach (var id in new[] { signed.Id, unknownSender.Id, wrongChain.Id })
            {
                var e = await Assert.ThrowsAsync<RpcException>(() => _cluster.Observer.Ledger(node).GetTransactionAsync(
                    new GetTransactionRequest { TxId = id.ToString() }, deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync);
                Assert.Equal(StatusCode.NotFound, e.StatusCode);
            }
        }
        foreach (var node in _cluster.All)
        {
            Assert.Empty(_cluster.LogLines(node, TestCluster.IsFatal));
        }
        await AssertHealthyAsync();
    }

    [Fact]
    public async Task Refusals_carry_the_documented_status_codes()
    {
        var observer = _cluster.Observer.Ledger(3);
        var badId = await Assert.ThrowsAsync<RpcException>(() => observer.GetTransactionAsync(new GetTransactionRequest { TxId = "not-hex" }, deadline: Soon()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badId.StatusCode);
        var shortId = await Assert.ThrowsAsync<RpcException>(() => observer.GetTransactionAsync(new GetTransactionRequest { TxId = "abcd" }, deadline: Soon()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, shortId.StatusCode);
        var unknownId = await Assert.ThrowsAsync<RpcException>(() => observer.GetTransactionAsync(
            new GetTransactionRequest { TxId = new string('0', 64) }, deadline: Soon()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknownId.StatusCode);
        var aboveTip = await Assert.ThrowsAsync<RpcException>(() => observer.GetBlockAsync(new GetBlockRequest { Height = 1_000_000_000 }, deadline: Soon()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, aboveTip.StatusCode);
        var emptyKey = await Assert.ThrowsAsync<RpcException>(() => observer.QueryStateAsync(new QueryStateRequest(), deadline: Soon()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, emptyKey.StatusCode);

        // An auditor may read but not submit, even a transaction signed with its own genesis key.
        var auditor = _cluster.Client("auditor-1");
        var audit = await Assert.ThrowsAsync<RpcException>(() => auditor.SubmitAsync(2, auditor.Put("hostile/auditor", new byte[1])));
        Assert.Equal(StatusCode.PermissionDenied, audit.StatusCode);
        Assert.NotNull((await auditor.Ledger(2).GetStatusAsync(new StatusRequest(), deadline: Soon())).TipHash);

        var app = _cluster.Client("hospital-d-app");
        using var stranger = Chain.Accel.SigningKey.Generate();
        var unknownKey = Transaction.Create(_cluster.Genesis.ChainId, "kv", "put", [Encoding.UTF8.GetBytes("hostile/stranger"), new byte[1]], 7, stranger);
        Assert.Equal(StatusCode.PermissionDenied, (await SubmitErrorAsync(app, 3, unknownKey)).StatusCode);
        var wrongChain = Transaction.Create("another-chain", "kv", "put", [Encoding.UTF8.GetBytes("hostile/chain"), new byte[1]], app.NextNonce(), app.Key);
        Assert.Equal(StatusCode.PermissionDenied, (await SubmitErrorAsync(app, 3, wrongChain)).StatusCode);
        var badSignature = app.Put("hostile/badsig", new byte[8]).Encoded.ToArray();
        badSignature[^5] ^= 1;
        Assert.Equal(StatusCode.PermissionDenied, (await SubmitRawErrorAsync(app.Ledger(3), badSignature)).StatusCode);
        var noContract = Transaction.Create(_cluster.Genesis.ChainId, "no-such-contract", "put", [new byte[1]], app.NextNonce(), app.Key);
        Assert.Equal(StatusCode.FailedPrecondition, (await SubmitErrorAsync(app, 3, noContract)).StatusCode);

        await AssertHealthyAsync();
    }

    [Fact]
    public async Task Wait_for_commit_returns_committed_with_the_height_of_the_block()
    {
        var app = _cluster.Client("hospital-a-app");
        foreach (var node in _cluster.All)
        {
            var tx = app.Put($"hostile/wait/{node}", Encoding.UTF8.GetBytes("value"));
            var response = await app.SubmitAsync(node, tx, waitForCommit: true, timeoutMs: 20_000);
            Assert.Equal(TxStatus.Committed, response.Status);
            Assert.True(response.Height > 0);
            var block = await app.Ledger(node).GetBlockAsync(new GetBlockRequest { Height = response.Height }, deadline: Soon());
            Assert.Contains(CommittedBlock.Decode(block.CommittedBlock.Span).Block.Transactions, t => t.Id == tx.Id);
            // Submitting it again is idempotent: the same id, already committed at that height.
            var again = await app.SubmitAsync((node + 1) % TestCluster.Nodes, tx, waitForCommit: true);
            Assert.Equal((TxStatus.Committed, response.Height), (again.Status, again.Height));
            _log.Line($"node {node}: COMMITTED at height {response.Height}; resubmitted to node {(node + 1) % TestCluster.Nodes}: {again.Status} at {again.Height}");
        }
        await AssertHealthyAsync();
    }

    // ---- Helpers.

    private static DateTime Soon() => DateTime.UtcNow.AddSeconds(10);

    /// <summary>
    /// Every node answers, commits a new transaction, and all agree on every acknowledged one. Whether they are all in
    /// one view is logged, not required here: these tests are about input handling, and replicas left in a view change
    /// of their own at low load are the subject of <see cref="CommitTests"/> and <see cref="FaultTests"/>.
    /// </summary>
    private async Task AssertHealthyAsync()
    {
        var probes = await _cluster.StatusesAsync();
        Assert.True(probes.All(p => p.Status is not null), "every node should still answer:\n" + LedgerChecks.Describe(probes));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var node in _cluster.All)
        {
            var health = await http.GetStringAsync($"http://127.0.0.1:{_cluster.MetricsPort(node)}/health");
            Assert.StartsWith("ok", health, StringComparison.Ordinal);
        }
        var app = _cluster.Client("hospital-b-app2");
        var tx = app.Put($"hostile/health/{Guid.NewGuid():N}", new byte[] { 7 });
        var committed = await app.SubmitAsync(Random.Shared.Next(TestCluster.Nodes), tx);
        Assert.Equal(TxStatus.Committed, committed.Status);
        await LedgerChecks.FinalAsync(_cluster, requireOneView: false);
    }

    private ClusterClient Impostor(string name, X509Certificate2 certificate)
    {
        var cas = _cluster.Manifest.TrustedCas(_cluster.Layout)
            .Select(ca => new TrustedCa(ca.Organisation, X509CertificateLoader.LoadCertificateFromFile(ca.Path))).ToList();
        var tls = new MutualTls(certificate, cas);
        return new ClusterClient(name, () => tls.ClientOptions(), null, _cluster.Genesis.ChainId, _cluster.All.Select(_cluster.ListenPort), _cluster.Book);
    }

    private ClusterClient NodeIdentity(int node)
    {
        var dir = _cluster.Layout.NodeDir(node);
        return ClusterClient.Load($"node-{node}", Path.Combine(dir, "tls.crt"), Path.Combine(dir, "tls.key"), null, _cluster);
    }

    private static List<PeerFrame> Garbage(int count) =>
        Enumerable.Range(0, count).Select(i => new PeerFrame { Consensus = ByteString.CopyFrom(new byte[] { (byte)i, 1, 2, 3 }) }).ToList();

    /// <summary>Opens Peer.Stream, sends <paramref name="frames"/>, completes; null when it ended with PeerAck, else its error.</summary>
    private static async Task<RpcException?> PeerStreamErrorAsync(ClusterClient client, int node, IReadOnlyList<PeerFrame> frames)
    {
        using var call = client.Peer(node).Stream(deadline: DateTime.UtcNow.AddSeconds(30));
        try
        {
            foreach (var frame in frames) await call.RequestStream.WriteAsync(frame);
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException)
        {
            // The server ended the call early: its status is in the response.
        }
        try
        {
            await call.ResponseAsync;
            return null;
        }
        catch (RpcException e)
        {
            return e;
        }
    }

    private static async Task<RpcException> SubmitRawErrorAsync(Api.V1.Ledger.LedgerClient ledger, byte[] bytes) =>
        await Assert.ThrowsAsync<RpcException>(() => ledger.SubmitAsync(new SubmitRequest { Transaction = ByteString.CopyFrom(bytes) },
            deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);

    private static async Task<RpcException> SubmitErrorAsync(ClusterClient client, int node, Transaction tx) =>
        await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(node, tx, waitForCommit: false));

    /// <summary>A refusal by TLS (the call never reached the service), not an answer of the service.</summary>
    private static void AssertRefusedBeforeTheApplication(RpcException e, string what) =>
        Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown,
            $"{what} with an untrusted certificate should fail at the TLS layer, got {e.Status}");

    /// <summary>
    /// A bare TLS 1.2/1.3 handshake with <paramref name="certificate"/>, offering h2, then the HTTP/2 preface: the node
    /// must end the connection (a handshake failure, or with TLS 1.3 an alert and close after the client's side
    /// completes) and never answer with HTTP/2 frames.
    /// </summary>
    private async Task<string> RawHandshakeAsync(int node, X509Certificate2 certificate)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _cluster.ListenPort(node), timeout.Token);
        await using var ssl = new SslStream(tcp.GetStream());
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
                ApplicationProtocols = [SslApplicationProtocol.Http2],
            }, timeout.Token);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return $"handshake refused ({e.GetType().Name}: {e.Message})";
        }
        try
        {
            await ssl.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), timeout.Token);
            await ssl.WriteAsync(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 }, timeout.Token); // an empty SETTINGS frame
            var buffer = new byte[1024];
            var read = await ssl.ReadAsync(buffer, timeout.Token);
            Assert.True(read == 0, $"node {node} answered {read} bytes of HTTP/2 to a certificate from an unknown CA ({ssl.SslProtocol})");
            return $"connection closed after the client's handshake ({ssl.SslProtocol})";
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return $"refused after the client's handshake ({ssl.SslProtocol}; {e.GetType().Name}: {e.Message})";
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"node {node} kept a connection with a certificate from an unknown CA open for 10 s without closing it");
            return "";
        }
    }
}
