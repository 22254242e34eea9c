using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Chain.Api.Tls;
using Chain.Api.V1;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Validation;
using Chain.Testnet.Cluster;
using Chain.Testnet.Load;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chain.Testnet.Tests;

/// <summary>
/// The client side of status and load against a stand-in Ledger service (not a node): Kestrel serving gRPC over
/// mutual TLS with the certificate init made for node 0, trusting every organisation's CA. Checks that init's
/// certificates work for TLS both ways and that load transactions pass the ledger's admission checks.
/// </summary>
public sealed class FakeNodeTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-fake-" + Guid.NewGuid().ToString("N"));
    private readonly FakeLedger _ledger = new();
    private WebApplication _app = null!;
    private TestnetLayout _layout = null!;
    private Manifest _manifest = null!;

    public async Task InitializeAsync()
    {
        _manifest = TestnetInit.Run(_dir, 1, FreeBasePort(), false, new StringWriter());
        _layout = new TestnetLayout(_dir);
        var node = _layout.NodeDir(0);
        var tls = MutualTls.Load(Path.Combine(node, "tls.crt"), Path.Combine(node, "tls.key"), _manifest.TrustedCas(_layout));
        _ledger.Tls = tls;
        _ledger.Validator = new TransactionValidator(Genesis.LoadFile(_layout.Genesis), new HashSet<string> { "kv" });

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(_ledger);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, _manifest.Nodes[0].ListenPort, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = tls.Certificate,
                ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                ClientCertificateValidation = (cert, _, _) => tls.Identify(cert) is not null,
            });
        }));
        _app = builder.Build();
        _app.MapGrpcService<FakeLedger>();
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A base port whose node port is free now (the OS's choice), leaving room for the proxy ports.</summary>
    private static int FreeBasePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)probe.LocalEndPoint!).Port;
            if (port + 300 <= 65535 || attempt > 20) return port;
        }
    }

    [Fact]
    public async Task Status_probe_answers_over_mutual_tls_as_hospital_a_app()
    {
        using var client = new NodeStatusClient(_layout, _manifest);
        var probe = await client.ProbeAsync(0);

        Assert.True(probe.Answered, probe.Error);
        Assert.Equal((TestnetLayout.ChainId, 7UL), (probe.Status!.ChainId, probe.Status.Height));
        Assert.Equal(new TlsIdentity("hospital-a", "hospital-a-app"), Assert.Single(_ledger.Callers.Distinct()));
    }

    [Fact]
    public async Task Load_submits_admissible_200_byte_transactions_from_several_clients_and_counts_refusals()
    {
        using var submitter = new GrpcSubmitter(_layout, _manifest, 2, TimeSpan.FromSeconds(5));
        Assert.Empty(await submitter.WarmUpAsync(CancellationToken.None));
        Assert.InRange(submitter.TransactionBytes, 195, 205);
        _ledger.RefuseEvery = 5;

        var result = await new LoadRunner(submitter).OpenLoopAsync(50, TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.Equal(50, result.Submitted);
        Assert.Equal((40, 10L), (result.Committed, result.RejectedCount));
        Assert.Equal("ResourceExhausted: the mempool is full; retry later", Assert.Single(result.Rejected.Keys));
        Assert.Equal(0, _ledger.Inadmissible);
        // Two signing keys, two TLS identities (each client signs with its key and connects with its certificate).
        Assert.Equal(2, _ledger.Senders.Count);
        Assert.Equal(50, _ledger.Senders.Values.Sum());
        Assert.Equal(["hospital-a-app", "hospital-a-app2"], _ledger.Callers.Select(c => c.CommonName).Distinct().Order());
    }

    /// <summary>Answers GetStatus; Submit checks the transaction like a node's admission, refuses every Nth, commits the rest.</summary>
    private sealed class FakeLedger : Chain.Api.V1.Ledger.LedgerBase
    {
        private int _submits;
        private int _inadmissible;

        public MutualTls Tls { get; set; } = null!;
        public TransactionValidator Validator { get; set; } = null!;
        public int RefuseEvery { get; set; }
        public int Inadmissible => Volatile.Read(ref _inadmissible);
        public ConcurrentBag<TlsIdentity> Callers { get; } = [];
        public ConcurrentDictionary<string, int> Senders { get; } = new();

        private void RecordCaller(ServerCallContext context)
        {
            var cert = context.GetHttpContext().Connection.ClientCertificate;
            Callers.Add(Tls.Identify(cert) ?? new TlsIdentity("?", "?"));
        }

        public override Task<NodeStatus> GetStatus(StatusRequest request, ServerCallContext context)
        {
            RecordCaller(context);
            return Task.FromResult(new NodeStatus { ChainId = TestnetLayout.ChainId, Height = 7, PeersConnected = 0 });
        }

        public override async Task<SubmitResponse> Submit(SubmitRequest request, ServerCallContext context)
        {
            RecordCaller(context);
            var check = Validator.Check(request.Transaction.Span, LedgerLimits.Default, out var tx);
            if (!check.IsAccepted || !request.WaitForCommit)
            {
                Interlocked.Increment(ref _inadmissible);
                throw new RpcException(new Status(StatusCode.PermissionDenied, check.Message));
            }
            Senders.AddOrUpdate(tx!.Sender.ToString(), 1, (_, n) => n + 1);
            if (RefuseEvery > 0 && Interlocked.Increment(ref _submits) % RefuseEvery == 0)
                throw new RpcException(new Status(StatusCode.ResourceExhausted, "the mempool is full; retry later"));
            await Task.Delay(5);
            return new SubmitResponse { TxId = tx.Id.ToString(), Status = TxStatus.Committed, Height = 8 };
        }
    }
}
