using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Chain.Ai.OnChain;
using Chain.Client;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// The agent's ledger commands: <c>attest</c> (register a trained version's weights and training metadata),
/// <c>check-weights</c> (the check before loading: exit 0 usable, 1 not, naming what is missing) and <c>log-actions</c>
/// (JSON-lines defense action records through the batching logger). Connection: <c>--testnet DIR --client NAME
/// [--node N]</c> for a local testnet, or <c>--client-dir DIR --address HOST:PORT --ca ORG=PATH... --organisation ORG</c>.
/// </summary>
public static class LedgerCommands
{
    private sealed class Connection
    {
        public Option<string> Testnet { get; } = new("--testnet") { Description = "A local testnet folder (testnet init/up)." };
        public Option<string> Client { get; } = new("--client") { Description = "With --testnet: the client (e.g. hospital-a-app)." };
        public Option<int> Node { get; } = new("--node") { Description = "With --testnet: the node id to talk to (default: the client's hospital's, else 0).", DefaultValueFactory = _ => -1 };
        public Option<string> ClientDir { get; } = new("--client-dir") { Description = "A member folder: tls.crt, tls.key, signing.key." };
        public Option<string> Address { get; } = new("--address") { Description = "The node, HOST:PORT." };
        public Option<string[]> Cas { get; } = new("--ca") { Description = "A trusted organisation CA, ORG=PATH (repeat).", AllowMultipleArgumentsPerToken = false };
        public Option<string> Organisation { get; } = new("--organisation") { Description = "Without --testnet: your organisation id." };

        public void AddTo(Command command)
        {
            foreach (var o in new Option[] { Testnet, Client, Node, ClientDir, Address, Cas, Organisation }) command.Add(o);
        }

        public (ChainClient Client, string Organisation) Open(ParseResult parse)
        {
            if (parse.GetValue(Testnet) is { } given)
            {
                var manifest = OnChain.TestnetManifest.Load(given);
                var name = parse.GetValue(Client) ?? throw new ArgumentException("--testnet needs --client NAME (e.g. hospital-a-app)");
                var wanted = parse.GetValue(Node);
                return (manifest.Connect(name, wanted >= 0 ? wanted : null), manifest.Client(name).Organisation);
            }
            var clientDir = parse.GetValue(ClientDir) ?? throw new ArgumentException("give --testnet DIR --client NAME, or --client-dir DIR --address HOST:PORT --ca ORG=PATH --organisation ORG");
            var address = parse.GetValue(Address) ?? throw new ArgumentException("--client-dir needs --address HOST:PORT");
            var organisation = parse.GetValue(Organisation) ?? throw new ArgumentException("--client-dir needs --organisation ORG");
            var trusted = (parse.GetValue(Cas) ?? []).Select(c => c.Split('=', 2) is [var o, var p] && o.Length > 0 && p.Length > 0
                ? (o, p) : throw new ArgumentException($"--ca '{c}' is not ORG=PATH")).ToList();
            if (trusted.Count == 0) throw new ArgumentException("--client-dir needs at least one --ca ORG=PATH");
            return (ChainClient.Open(clientDir, address, trusted), organisation);
        }
    }

    public static void AddTo(RootCommand root, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Add(Attest(stdout, stderr));
        root.Add(Endorse(stdout, stderr));
        root.Add(CheckWeights(stdout, stderr));
        root.Add(LogActions(stdout, stderr));
    }

    private static Command Attest(TextWriter stdout, TextWriter stderr)
    {
        var weights = new Option<string>("--weights") { Description = "The trained weights file.", Required = true };
        var model = new Option<string>("--model") { Description = "The model id.", Required = true };
        var version = new Option<string>("--version") { Description = "This version's id.", Required = true };
        var parent = new Option<string>("--parent") { Description = "The version it was trained from (omit for a first version)." };
        var data = new Option<string>("--data") { Description = "The training data file (only its SHA-256 goes on chain).", Required = true };
        var loader = new Option<string>("--loader-options") { Description = "The loader options that shaped the training set, as canonical text.", Required = true };
        var epsilon = new Option<double?>("--epsilon") { Description = "Differential privacy: epsilon (with --delta). Omit for no DP." };
        var delta = new Option<double?>("--delta") { Description = "Differential privacy: delta." };
        var metrics = new Option<string[]>("--metric") { Description = "An evaluation figure, NAME=VALUE (repeat)." };
        var connection = new Connection();
        var command = new Command("attest", "Registers a trained model version on chain: SHA-256 of its weights, parent, data fingerprint, privacy budget, metrics.")
        {
            weights, model, version, parent, data, loader, epsilon, delta, metrics,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => Run(stderr, async () =>
        {
            var privacy = (parse.GetValue(epsilon), parse.GetValue(delta)) switch
            {
                (null, null) => TrainingPrivacy.None,
                ({ } e, { } d) => TrainingPrivacy.Dp(e, d),
                _ => throw new ArgumentException("--epsilon and --delta go together"),
            };
            var figures = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var m in parse.GetValue(metrics) ?? [])
            {
                if (m.Split('=', 2) is not [var name, var text] || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    throw new ArgumentException($"--metric '{m}' is not NAME=NUMBER");
                figures[name] = value;
            }
            var training = new TrainingSummary(DataFingerprint.Compute(parse.GetValue(data)!, parse.GetValue(loader)!), privacy, figures);
            var (client, organisation) = connection.Open(parse);
            using (client)
            {
                var record = await new ModelAttestor(client, organisation)
                    .AttestAsync(new ModelVersionClaim(parse.GetValue(model)!, parse.GetValue(version)!, parse.GetValue(parent), training), parse.GetValue(weights)!, ct)
                    .ConfigureAwait(false);
                await stdout.WriteLineAsync($"registered {record.Model} {record.Version} (weights sha256 {record.WeightsSha256}) by {record.Organisation} " +
                    $"at height {record.Height}: {record.Status}").ConfigureAwait(false);
            }
            return Program.Ok;
        }));
        return command;
    }

    private static Command CheckWeights(TextWriter stdout, TextWriter stderr)
    {
        var weights = new Option<string>("--weights") { Description = "The weights file about to be loaded.", Required = true };
        var model = new Option<string>("--model") { Description = "The model id.", Required = true };
        var version = new Option<string>("--version") { Description = "The version id.", Required = true };
        var connection = new Connection();
        var command = new Command("check-weights", "Checks on chain that a weights file is the registered version, not revoked and endorsed per its policy (exit 1 if not).")
        {
            weights, model, version,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => Run(stderr, async () =>
        {
            var (client, _) = connection.Open(parse);
            using (client)
            {
                try
                {
                    var usable = await ModelAttestor.EnsureUsableAsync(client.State, parse.GetValue(model)!, parse.GetValue(version)!, parse.GetValue(weights)!, ct)
                        .ConfigureAwait(false);
                    await stdout.WriteLineAsync($"usable: {usable.LogName} (sha256 {usable.WeightsSha256}), trained by {usable.Record.Organisation}, " +
                        $"endorsed by {string.Join(", ", usable.Record.Endorsements)} (policy {usable.Policy})").ConfigureAwait(false);
                    return Program.Ok;
                }
                catch (ModelNotAttestedException e)
                {
                    await stdout.WriteLineAsync($"NOT usable ({e.Gap}): {e.Message}").ConfigureAwait(false);
                    return Program.CheckFailed;
                }
            }
        }));
        return command;
    }

    private static Command Endorse(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = "The model id.", Required = true };
        var version = new Option<string>("--version") { Description = "The version id.", Required = true };
        var connection = new Connection();
        var command = new Command("endorse", "Endorses a registered model version on behalf of your organisation (another hospital than its trainer).")
        {
            model, version,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => Run(stderr, async () =>
        {
            var (client, organisation) = connection.Open(parse);
            using (client)
            {
                var attestor = new ModelAttestor(client, organisation);
                await attestor.EndorseAsync(parse.GetValue(model)!, parse.GetValue(version)!, ct).ConfigureAwait(false);
                await stdout.WriteLineAsync($"{organisation} endorsed {parse.GetValue(model)} {parse.GetValue(version)}").ConfigureAwait(false);
                return Program.Ok;
            }
        }));
        return command;
    }

    private static Command LogActions(TextWriter stdout, TextWriter stderr)
    {
        var agent = new Option<string>("--agent") { Description = "The agent's name recorded with every action.", Required = true };
        var actions = new Option<string>("--actions") { Description = "A file of defense action records, one JSON object per line.", Required = true };
        var connection = new Connection();
        var command = new Command("log-actions", "Logs defense action records on chain in batches of up to 1,000, and prints the logger's counters.")
        {
            agent, actions,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => Run(stderr, async () =>
        {
            var path = parse.GetValue(actions)!;
            if (!File.Exists(path)) throw new ArgumentException($"actions file {path} does not exist");
            var (client, _) = connection.Open(parse);
            using (client)
            {
                var logger = new ActionLogger(new ChainDefenseLogSink(client), new ActionLoggerOptions { Agent = parse.GetValue(agent)! });
                ActionLoggerStats stats;
                try
                {
                    var line = 0;
                    foreach (var text in File.ReadLines(path))
                    {
                        line++;
                        if (string.IsNullOrWhiteSpace(text)) continue;
                        DefenseActionRecord? record;
                        try
                        {
                            record = JsonSerializer.Deserialize<DefenseActionRecord>(text, JsonSerializerOptions.Web);
                        }
                        catch (JsonException e)
                        {
                            throw new ArgumentException($"{path}:{line}: not a defense action record: {e.Message}", e);
                        }
                        if (record?.Problem() is { } problem) throw new ArgumentException($"{path}:{line}: {problem}");
                        while (!logger.TryLog(record!)) await Task.Delay(50, ct).ConfigureAwait(false); // the queue is full: wait for room
                    }
                    stats = await logger.FlushAsync(ct).ConfigureAwait(false);
                }
                finally
                {
                    await logger.DisposeAsync().ConfigureAwait(false);
                }
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"logged {stats.Logged}, submitted {stats.Submitted}, failed {stats.Failed}, dropped {stats.Dropped} in {stats.Batches} batch(es); " +
                    $"slowest batch {stats.MaxBatchLatency.TotalMilliseconds:0} ms{(stats.LastError is null ? "" : "; last error: " + stats.LastError)}"))
                    .ConfigureAwait(false);
                return stats.Failed == 0 ? Program.Ok : Program.CheckFailed;
            }
        }));
        return command;
    }

    /// <summary>Bad input and ledger refusals become one line on stderr and exit 2 (never a crash).</summary>
    private static async Task<int> Run(TextWriter stderr, Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or TransactionFailedException
                                      or Chain.Client.Custody.CustodyException or Grpc.Core.RpcException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return Program.Error;
        }
    }
}
