using System.CommandLine;
using System.Globalization;
using Chain.Client;
using Chain.Client.Sources;
using Chain.Ledger;
using Chain.Ledger.Identity;

namespace Chain.Cli;

/// <summary>
/// One command's run: its options, its output, and the ledger it reads (opened on first use from the connection
/// options). Online, every call to the node must finish within the --timeout; loops re-arm it with <see cref="KeepAlive"/>.
/// </summary>
internal sealed class CommandContext : IDisposable
{
    private readonly CancellationTokenSource _timeout;
    private Connection? _connection;

    public CommandContext(CliEnvironment env, ParseResult parse, CancellationTokenSource timeout, TimeSpan timeoutAfter)
    {
        Env = env;
        Parse = parse;
        _timeout = timeout;
        Timeout = timeoutAfter;
        Output = new Output(env.Stdout, parse.GetValue(env.Options.Json));
    }

    public CliEnvironment Env { get; }

    public ParseResult Parse { get; }

    public Output Output { get; }

    public TimeSpan Timeout { get; }

    /// <summary>Cancelled when the user interrupts, or (online) when the node has not answered within <see cref="Timeout"/>.</summary>
    public CancellationToken Cancellation => _timeout.Token;

    /// <summary>What the ledger is read from, once connected ("node 127.0.0.1:7100"), for error messages.</summary>
    public string? SourceDescription { get; private set; }

    /// <summary>Re-arms the node timeout (online): call before each round trip of a long loop.</summary>
    public void KeepAlive()
    {
        if (_connection?.Client is not null) _timeout.CancelAfter(Timeout);
    }

    /// <summary>Stops the node timeout: the node has answered everything it will be asked, and local work (encrypting a large file) may take longer.</summary>
    public void EndTimeout() => _timeout.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan);

    public T? Value<T>(Option<T> option) => Parse.GetValue(option);

    public T? Value<T>(Argument<T> argument) => Parse.GetValue(argument);

    /// <summary>Opens the ledger named by the connection options (once).</summary>
    public async Task<Connection> ConnectAsync()
    {
        if (_connection is not null) return _connection;
        var o = Env.Options;
        var data = Parse.GetValue(o.Data);
        var node = Parse.GetValue(o.Node);
        var testnet = Parse.GetValue(o.Testnet);
        if (data is not null && node is not null) throw new CliException("--data and --node exclude each other: read a data directory or ask a node");
        if (data is null && node is null && testnet is null) throw new CliException("say where to read: --node HOST:PORT, --data DIR or --testnet DIR");
        if (testnet is not null && !Directory.Exists(testnet)) throw new CliException($"testnet folder {testnet} does not exist");

        var genesisPath = Parse.GetValue(o.Genesis) ?? (testnet is null ? null : Path.Combine(testnet, "genesis.json"));
        if (genesisPath is null) throw new CliException("--genesis FILE is required (the consortium's genesis.json), or --testnet DIR");
        var genesis = LoadGenesis(genesisPath);

        if (data is not null)
        {
            if (!Directory.Exists(data)) throw new CliException($"data directory {data} does not exist");
            SourceDescription = $"data directory {data}";
            StoreLedgerSource source;
            try
            {
                source = StoreLedgerSource.OpenDataDirectory(data, genesis);
            }
            catch (LedgerException e)
            {
                throw new CliException($"{data}: {e.Message}");
            }
            _connection = new Connection(genesis, source, null, null);
            return _connection;
        }

        var address = node ?? FirstValidator(genesis);
        CheckAddress(address);
        var identity = Parse.GetValue(o.Identity) ?? (testnet is null ? null : Path.Combine(testnet, "clients", "auditor-1"));
        if (identity is null) throw new CliException("--identity DIR is required with --node (a directory holding tls.crt and tls.key)");
        foreach (var file in new[] { "tls.crt", "tls.key" })
        {
            if (!File.Exists(Path.Combine(identity, file))) throw new CliException($"identity directory {identity} has no {file}");
        }
        var caDir = Parse.GetValue(o.CaDir) ?? (testnet is null ? null : Path.Combine(testnet, "ca"));
        if (caDir is null) throw new CliException("--ca-dir DIR is required with --node (the organisation CA certificates, <organisation>.crt)");
        if (!Directory.Exists(caDir)) throw new CliException($"CA directory {caDir} does not exist");
        var cas = Directory.GetFiles(caDir, "*.crt").Order(StringComparer.Ordinal)
            .Select(p => (Path.GetFileNameWithoutExtension(p), p)).ToList();
        if (cas.Count == 0) throw new CliException($"CA directory {caDir} holds no .crt file");

        SourceDescription = $"node {address}";
        var client = ChainClient.Open(identity, address, cas);
        var grpc = new GrpcLedgerSource(client, address);
        try
        {
            _timeout.CancelAfter(Timeout);
            var status = await client.StatusAsync(Cancellation).ConfigureAwait(false);
            if (status.ChainId != genesis.ChainId)
            {
                throw new CliException($"node {address} serves chain '{Cli.OneLine(status.ChainId)}', but the genesis is for '{genesis.ChainId}'");
            }
            _connection = new Connection(genesis, grpc, client, status);
            return _connection;
        }
        catch
        {
            grpc.Dispose();
            throw;
        }
    }

    private static Genesis LoadGenesis(string path)
    {
        if (!File.Exists(path)) throw new CliException($"genesis file {path} does not exist");
        try
        {
            return Genesis.LoadFile(path);
        }
        catch (LedgerException e)
        {
            throw new CliException($"genesis {path}: {e.Message}");
        }
    }

    private static string FirstValidator(Genesis genesis) =>
        genesis.Addresses.OrderBy(a => a.Key).Select(a => a.Value).FirstOrDefault()
        ?? throw new CliException("the genesis lists no validator address: give --node HOST:PORT");

    private static void CheckAddress(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port == 0
            || address[..colon].Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '/' or '@' or '?' or '#'))
        {
            throw new CliException($"--node '{Cli.OneLine(address)}' is not HOST:PORT");
        }
    }

    public void Dispose()
    {
        _connection?.Source.Dispose();
        _connection = null;
    }
}

/// <summary>An open ledger: the genesis it is checked against, where it is read, and (online) the node client and its status.</summary>
internal sealed record Connection(Genesis Genesis, ILedgerSource Source, ChainClient? Client, Api.V1.NodeStatus? NodeStatus)
{
    public bool Online => Client is not null;
}
