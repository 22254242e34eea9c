using Chain.Chaincode;
using System.CommandLine;
using System.Net;
using System.Text.Json;
using Chain.Accel.Offload;
using Chain.Api.Tls;
using Chain.Consensus;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Storage;
using Chain.Ledger.Validation;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Prometheus;

namespace Chain.Node;

/// <summary>
/// Starts a node: <c>Chain.Node --config FILE [--data-dir DIR]</c>. Exit codes: 0 after a clean shutdown, 2 for a
/// configuration error (one line naming the setting), 1 when the node failed while running.
/// </summary>
public static class NodeHost
{
    public static async Task<int> RunAsync(string[] args)
    {
        var configOption = new Option<FileInfo>("--config") { Description = "The node's JSON configuration file", Required = true };
        var dataDirOption = new Option<string?>("--data-dir") { Description = "Overrides DataDir (where the ledger is stored)" };
        var root = new RootCommand("A Chain consortium node") { configOption, dataDirOption };
        var exit = 0;
        root.SetAction(async (parse, ct) =>
        {
            exit = await RunNodeAsync(parse.GetValue(configOption)!, parse.GetValue(dataDirOption), ct).ConfigureAwait(false);
            return exit;
        });
        var code = await root.Parse(args).InvokeAsync().ConfigureAwait(false);
        return code != 0 ? code : exit;
    }

    /// <summary>Reads and validates the configuration: JSON file, then CHAIN_NODE_* environment variables, then --data-dir.</summary>
    public static NodeOptions LoadOptions(string configPath, string? dataDir)
    {
        var full = Path.GetFullPath(configPath);
        if (!File.Exists(full)) throw new NodeConfigException($"config file {full} does not exist");
        IConfigurationRoot config;
        try
        {
            config = new ConfigurationBuilder().AddJsonFile(full, optional: false).AddEnvironmentVariables("CHAIN_NODE_").Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or JsonException or IOException)
        {
            throw new NodeConfigException($"config file {full} is not valid JSON: {e.InnerException?.Message ?? e.Message}", e);
        }
        var options = new NodeOptions();
        try
        {
            config.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            var detail = e.InnerException is null ? e.Message : $"{e.Message} ({e.InnerException.Message})";
            throw new NodeConfigException($"config file {full}: {detail}", e);
        }
        options.ConfigDirectory = Path.GetDirectoryName(full)!;
        if (dataDir is not null) options.DataDir = Path.GetFullPath(dataDir);
        return options.Validate();
    }

    private static async Task<int> RunNodeAsync(FileInfo configFile, string? dataDir, CancellationToken ct)
    {
        NodeOptions options;
        Genesis genesis;
        SigningKeyHolder key;
        MutualTls tls;
        try
        {
            options = LoadOptions(configFile.FullName, dataDir);
            genesis = Genesis.LoadFile(options.Resolve(options.Genesis));
            key = new SigningKeyHolder(KeyFile.Load(options.Resolve(options.SigningKey)));
            tls = MutualTls.Load(options.Resolve(options.Tls.Certificate), options.Resolve(options.Tls.Key),
                options.Tls.TrustedCas.Select(kv => (kv.Key, options.Resolve(kv.Value))));
            CheckIdentity(options, genesis, key);
        }
        catch (Exception e) when (e is NodeConfigException or LedgerException or TlsConfigurationException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        using (key)
        {
            try
            {
                await using var node = NodeRuntime.Create(options, genesis, key.Key, tls);
                return await node.RunAsync(ct).ConfigureAwait(false);
            }
            catch (LedgerException e) when (e.Error is LedgerError.StoreCorrupt)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
                return 2;
            }
        }
    }

    private static void CheckIdentity(NodeOptions options, Genesis genesis, SigningKeyHolder key)
    {
        var validators = genesis.Validators;
        for (var i = 0; i < validators.Count; i++)
        {
            if (!validators.TryGet((ushort)i, out _))
                throw new NodeConfigException($"genesis validator ids must be 0..{validators.Count - 1} (id {i} is missing)");
        }
        if (!validators.TryGet((ushort)options.NodeId, out var me))
            throw new NodeConfigException($"NodeId {options.NodeId} is not a validator in the genesis");
        if (me.PublicKey != key.Key.PublicKey)
            throw new NodeConfigException($"SigningKey does not match validator {options.NodeId}'s public key in the genesis");
    }

    private sealed class SigningKeyHolder(Accel.SigningKey key) : IDisposable
    {
        public Accel.SigningKey Key { get; } = key;
        public void Dispose() => Key.Dispose();
    }
}

/// <summary>A running node: the store, the consensus driver, the peer network and the web host around them.</summary>
internal sealed class NodeRuntime : IAsyncDisposable
{
    private readonly NodeOptions _options;
    private readonly RocksDbLedgerStore _store;
    private readonly Lazy<RocksDbBlobStore> _blobs;
    private readonly WebApplication _app;
    private readonly Driver _driver;
    private readonly PeerNetwork _network;
    private readonly Admission _admission;
    private readonly MempoolJournal _journal;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _background = new();

    private NodeRuntime(NodeOptions options, RocksDbLedgerStore store, Lazy<RocksDbBlobStore> blobs, WebApplication app, Driver driver, PeerNetwork network,
        Admission admission, MempoolJournal journal, ILogger logger)
    {
        _options = options;
        _store = store;
        _blobs = blobs;
        _app = app;
        _driver = driver;
        _network = network;
        _admission = admission;
        _journal = journal;
        _logger = logger;
    }

    public static NodeRuntime Create(NodeOptions options, Genesis genesis, Accel.SigningKey key, MutualTls tls)
    {
        var self = new ReplicaId((ushort)options.NodeId);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ");
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        var (host, port) = NodeOptions.CheckAddress(options.Listen, "Listen");
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 64 << 20;
            Listen(k, host, port, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                l.UseHttps(h =>
                {
                    h.ServerCertificate = tls.Certificate;
                    h.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    h.ClientCertificateValidation = (cert, _, _) => tls.Identify(cert) is not null;
                });
            });
            if (options.MetricsListen.Length > 0)
            {
                var (mh, mp) = NodeOptions.CheckAddress(options.MetricsListen, "MetricsListen");
                Listen(k, mh, mp, l => l.Protocols = HttpProtocols.Http1);
            }
        });
        var maxConsensus = new ConsensusOptions().MaxPayloadBytes + (1 << 20);
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = maxConsensus;
            o.MaxSendMessageSize = 64 << 20;
            o.EnableDetailedErrors = false;
        });

        var loggerFactory = LoggerFactory.Create(l => l.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "));
        var logger = loggerFactory.CreateLogger("Chain.Node");
        var metrics = new NodeMetrics();
        // The accelerator first: opening the store already hashes (its state root is checked).
        var accelerator = AcceleratorLoader.Load(
            options.Accelerator with { Path = options.Accelerator.Path is { Length: > 0 } p ? options.Resolve(p) : null },
            m => logger.LogInformation("{Message}", m));
        if (accelerator is CheckedAccelerator watched)
        {
            watched.Faulted += f => logger.LogError(
                "accelerator {Backend} disabled: it gave a wrong result for {Operation} ({Detail}); all work now runs on the CPU reference",
                f.Backend, f.Operation, f.Detail);
        }
        Offloaded.Use(accelerator);
        metrics.Track(accelerator);
        var dataDir = options.Resolve(options.DataDir);
        Directory.CreateDirectory(dataDir);
        var store = RocksDbLedgerStore.Open(Path.Combine(dataDir, "ledger"), genesis);
        // The blob store opens on first use: a node that serves no off-chain payloads keeps one RocksDB, as before.
        var blobLimits = new BlobLimits(options.Blobs.MaxBlobBytes, options.Blobs.MaxTotalBytes);
        var blobs = new Lazy<RocksDbBlobStore>(() =>
        {
            var opened = RocksDbBlobStore.Open(Path.Combine(dataDir, "blobs"), blobLimits);
            metrics.BlobBytes.Set(opened.TotalBytes);
            return opened;
        }, LazyThreadSafetyMode.ExecutionAndPublication);
        var mempool = new Mempool(options.Mempool);
        var journal = new MempoolJournal(store);
        var runtime = new ChaincodeRuntime(SystemContracts.Registry(), genesis);
        var outcomes = new Outcomes(store);
        var verified = new VerificationCache(options.VerificationCacheSize);
        metrics.Track(verified);
        var txValidator = new TransactionValidator(genesis, runtime.Registry.Ids, verified);
        var hub = new CommitHub();
        var peers = genesis.Validators.All.Where(v => v.Id != self.Value).Select(v => new PeerAddress(v.Id,
            options.Peers.TryGetValue(v.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), out var a) ? a : genesis.Addresses[v.Id],
            v.Organisation));
        var network = new PeerNetwork(peers, tls, metrics, logger, queueCapacity: 20_000);
        Driver? driver = null;
        var admission = new Admission(txValidator, mempool, store, journal, metrics, LedgerLimits.Default, () => driver?.Wake());
        var validator = new BlockValidator(store, txValidator, mempool, LedgerLimits.Default, genesis.Timestamp);
        var keys = genesis.Validators.All.Select(v => v.PublicKey).ToList();
        driver = new Driver(new DriverContext(self, genesis, options.Consensus, store, mempool, journal, validator,
            new Ed25519Signer(key), new Ed25519Verifier(keys), network, hub, runtime, outcomes, metrics, logger));
        var callers = new CallerIdentity(tls, genesis);
        builder.Services.AddSingleton(new PeerService(callers, () => driver, admission, store, self, maxConsensus, network));
        builder.Services.AddSingleton(new LedgerService(callers, admission, store, mempool, hub, outcomes, () => driver,
            () => network.Connected, genesis, self));
        builder.Services.AddSingleton(new BlobService(callers, blobs, metrics));

        var app = builder.Build();
        app.MapGrpcService<PeerService>();
        app.MapGrpcService<LedgerService>();
        app.MapGrpcService<BlobService>();
        if (options.MetricsListen.Length > 0)
        {
            var metricsPort = NodeOptions.CheckAddress(options.MetricsListen, "MetricsListen").Port;
            app.MapMetrics("/metrics", metrics.Registry).RequireHost($"*:{metricsPort}");
            app.MapGet("/health", () => driver.Failure is null
                ? Results.Text($"ok height={store.Height}\n")
                : Results.Text($"failed: {driver.Failure}\n", statusCode: 503)).RequireHost($"*:{metricsPort}");
        }
        return new NodeRuntime(options, store, blobs, app, driver, network, admission, journal, logger);
    }

    private static void Listen(KestrelServerOptions k, string host, int port, Action<ListenOptions> configure)
    {
        if (host == "localhost") k.ListenLocalhost(port, configure);
        else if (IPAddress.TryParse(host, out var ip)) k.Listen(ip, port, configure);
        else throw new NodeConfigException($"listen host '{host}' must be an IP address or localhost");
    }

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var recovered = _admission.Recover();
        if (recovered > 0) _logger.LogInformation("re-admitted {Count} journaled transactions", recovered);
        await _app.StartAsync(ct).ConfigureAwait(false);
        _logger.LogInformation("node {Id} listening on {Listen} (metrics {Metrics}), height {Height}",
            _options.NodeId, _options.Listen, _options.MetricsListen, _store.Height);
        _network.Start();
        _driver.Start();
        var gossip = _admission.GossipLoop(_network, _background.Token);
        var regossip = _admission.RegossipLoop(TimeSpan.FromSeconds(2), _background.Token);
        var ticker = TickLoop(_background.Token);
        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        using var reg = ct.Register(lifetime.StopApplication);
        try
        {
            await _app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _background.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(gossip, regossip, ticker).ConfigureAwait(false);
        }
        _logger.LogInformation("node {Id} stopped at height {Height}", _options.NodeId, _store.Height);
        return _driver.Failure is null ? 0 : 1;
    }

    private async Task TickLoop(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.Consensus.TickMs));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                _driver.Tick();
                if (_driver.Failure is not null)
                {
                    _app.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _driver.Dispose();
        await _network.DisposeAsync().ConfigureAwait(false);
        _admission.Dispose();
        _journal.Dispose();
        await _app.DisposeAsync().ConfigureAwait(false);
        _store.Dispose();
        if (_blobs.IsValueCreated) _blobs.Value.Dispose();
        _background.Dispose();
    }
}
