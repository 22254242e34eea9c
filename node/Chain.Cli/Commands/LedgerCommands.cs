using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Chain.Cli.Commands;

/// <summary>The ledger itself: status, blocks, one block, evidence. (tx and state get live in their own files.)</summary>
internal static class LedgerCommands
{
    public static void AddTo(RootCommand root, CliEnvironment env)
    {
        root.Add(Status(env));
        root.Add(Blocks(env));
        root.Add(Block(env));
        root.Add(TxCommand.Create(env));
        root.Add(StateCommand.Create(env));
        root.Add(Evidence(env));
    }

    private static Command Status(CliEnvironment env)
    {
        var command = new Command("status", "Chain id, height, tip hash and state root (online also the node's id, view, primary and peers).");
        Cli.SetAction(command, env, async context =>
        {
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var tip = await c.Source.TipAsync(context.Cancellation).ConfigureAwait(false);
            var s = c.Online ? await c.Client!.StatusAsync(context.Cancellation).ConfigureAwait(false) : null;
            if (context.Output.Json)
            {
                context.Output.WriteJson(new
                {
                    source = c.Source.Description,
                    chainId = c.Genesis.ChainId,
                    genesisHash = c.Genesis.Hash.ToString(),
                    height = tip.Height,
                    tipHash = tip.TipHash.ToString(),
                    stateRoot = tip.StateRoot.ToString(),
                    validators = c.Genesis.Validators.Count,
                    node = s is null ? null : new
                    {
                        nodeId = s.NodeId,
                        view = s.View,
                        primary = s.Primary,
                        inViewChange = s.InViewChange,
                        peersConnected = s.PeersConnected,
                        mempoolSize = s.MempoolSize,
                        stableCheckpoint = s.StableCheckpoint,
                    },
                });
                return Cli.Ok;
            }
            var fields = new List<(string, object?)>
            {
                ("source", c.Source.Description),
                ("chain id", c.Genesis.ChainId),
                ("genesis hash", c.Genesis.Hash),
                ("height", tip.Height),
                ("tip hash", tip.TipHash),
                ("state root", tip.StateRoot),
                ("validators", c.Genesis.Validators.Count),
            };
            if (s is not null)
            {
                fields.Add(("node", Output.ValidatorText(c.Genesis, s.NodeId)));
                fields.Add(("view", s.View));
                fields.Add(("primary", Output.ValidatorText(c.Genesis, s.Primary)));
                fields.Add(("in view change", s.InViewChange));
                fields.Add(("peers online", $"{s.PeersConnected} of {c.Genesis.Validators.Count - 1}"));
                fields.Add(("mempool", s.MempoolSize));
                fields.Add(("stable checkpoint", s.StableCheckpoint));
            }
            context.Output.Fields([.. fields]);
            return Cli.Ok;
        });
        return command;
    }

    private static Command Blocks(CliEnvironment env)
    {
        var from = new Option<string>("--from") { Description = "First height (default: 20 blocks before --to)." };
        var to = new Option<string>("--to") { Description = "Last height (default: the tip, or 20 blocks after --from)." };
        var command = new Command("blocks", "A range of blocks (default: the last 20), one line each.") { from, to };
        Cli.SetAction(command, env, async context =>
        {
            var f = Args.OptionalHeight(context.Value(from), "--from");
            var t = Args.OptionalHeight(context.Value(to), "--to");
            var c = await context.ConnectAsync().ConfigureAwait(false);
            var (begin, end) = Args.Range(f, t, await LedgerReader.TipAsync(context, c).ConfigureAwait(false), 20, 10_000);
            var rows = new List<BlockRow>();
            for (var h = begin; h <= end; h++)
            {
                var b = await LedgerReader.BlockAsync(context, c, h).ConfigureAwait(false);
                var header = b.Block.Header;
                rows.Add(new BlockRow(h, b.Block.Hash.ToString(), header.TxCount, header.Proposer, header.View, Output.Time(header.Timestamp),
                    b.Certificate.Signatures.Count));
            }
            if (context.Output.Json)
            {
                context.Output.WriteJson(new { from = begin, to = end, blocks = rows });
                return Cli.Ok;
            }
            var table = Output.Table("height", "hash", "txs", "proposer", "view", "timestamp (UTC)", "signers");
            foreach (var r in rows)
                Output.Row(table, r.Height, r.Hash, r.TxCount, Output.ValidatorText(c.Genesis, r.Proposer), r.View, r.Timestamp, r.Signers);
            context.Output.Write(table);
            return Cli.Ok;
        });
        return command;
    }

    private sealed record BlockRow(ulong Height, string Hash, uint TxCount, ushort Proposer, ulong View, string Timestamp, int Signers);

    private static Command Block(CliEnvironment env)
    {
        var height = new Argument<string>("height") { Description = "The block's height (1 or more)." };
        var command = new Command("block", "One block: header, commit certificate (checked against the genesis) and transactions. Exit 1 if a check fails.")
        {
            height,
        };
        Cli.SetAction(command, env, async context =>
        {
            var h = Args.Height(context.Value(height), "height");
            var c = await context.ConnectAsync().ConfigureAwait(false);
            var b = await LedgerReader.BlockAsync(context, c, h).ConfigureAwait(false);
            var header = b.Block.Header;
            var certificateProblem = b.Certificate.Check(b.Block.Hash, h, c.Genesis.Validators);
            var bodyProblem = b.Block.CheckBody();
            var outcomes = await LedgerReader.OutcomesAsync(context, c, h).ConfigureAwait(false);
            var txs = b.Block.Transactions.Select((tx, i) =>
            {
                var (org, name) = Output.Member(c.Genesis, tx.Sender);
                var o = LedgerReader.OutcomeAt(outcomes, i, tx.Id);
                return new
                {
                    index = i,
                    id = tx.Id.ToString(),
                    contract = tx.Contract,
                    function = tx.Function,
                    senderOrganisation = org,
                    senderName = name,
                    outcome = o is null ? "unknown" : o.Success ? "succeeded" : "error",
                    error = o?.Error,
                };
            }).ToList();
            var ok = certificateProblem is null && bodyProblem is null;
            if (context.Output.Json)
            {
                context.Output.WriteJson(new
                {
                    height = h,
                    hash = b.Block.Hash.ToString(),
                    previousHash = header.PreviousHash.ToString(),
                    txRoot = header.TxRoot.ToString(),
                    executedHeight = header.ExecutedHeight,
                    stateRoot = header.StateRoot.ToString(),
                    proposer = header.Proposer,
                    view = header.View,
                    timestamp = Output.Time(header.Timestamp),
                    timestampMs = header.Timestamp,
                    txCount = header.TxCount,
                    bodyValid = bodyProblem is null,
                    bodyProblem,
                    certificate = new
                    {
                        phase = b.Certificate.Phase.ToString(),
                        view = b.Certificate.View,
                        signers = b.Certificate.Signatures.Select(s => (int)s.Replica).ToList(),
                        valid = certificateProblem is null,
                        problem = certificateProblem,
                    },
                    transactions = txs,
                });
                return ok ? Cli.Ok : Cli.CheckFailed;
            }
            context.Output.Fields(
                ("height", h),
                ("hash", b.Block.Hash),
                ("previous hash", header.PreviousHash),
                ("tx root", header.TxRoot + (bodyProblem is null ? " (matches the body)" : $" INVALID: {bodyProblem}")),
                ("executed height", header.ExecutedHeight),
                ("state root", $"{header.StateRoot} (after block {header.ExecutedHeight})"),
                ("proposer", Output.ValidatorText(c.Genesis, header.Proposer)),
                ("view", header.View),
                ("timestamp", $"{Output.Time(header.Timestamp)} ({header.Timestamp})"),
                ("transactions", header.TxCount),
                ("certificate", $"{b.Certificate.Phase}, view {b.Certificate.View}, {b.Certificate.Signatures.Count} of {c.Genesis.Validators.Count} signers: "
                    + string.Join(", ", b.Certificate.Signatures.Select(s => s.Replica))),
                ("certificate check", certificateProblem is null ? "valid against the genesis" : $"INVALID: {certificateProblem}"));
            if (txs.Count > 0)
            {
                context.Output.Line();
                var table = Output.Table("#", "tx id", "contract", "function", "sender", "outcome");
                foreach (var t in txs)
                {
                    Output.Row(table, t.index, t.id, t.contract, t.function,
                        t.senderOrganisation is null ? "unknown key" : $"{t.senderOrganisation}/{t.senderName}",
                        t.error is null ? t.outcome : $"{t.outcome}: {t.error}");
                }
                context.Output.Write(table);
            }
            return ok ? Cli.Ok : Cli.CheckFailed;
        });
        return command;
    }

    private static Command Evidence(CliEnvironment env)
    {
        var command = new Command("evidence",
            "Misbehaviour consensus recorded (equivocations): the node's records online, the data directory's offline. Not part of the ledger: unprovable.");
        Cli.SetAction(command, env, async context =>
        {
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var records = await c.Source.EvidenceAsync(context.Cancellation).ConfigureAwait(false);
            var parsed = records.Select(r =>
            {
                try
                {
                    return JsonNode.Parse(r);
                }
                catch (JsonException)
                {
                    return JsonValue.Create(r);
                }
            }).ToList();
            if (context.Output.Json)
            {
                context.Output.WriteJson(new { source = c.Source.Description, count = records.Count, evidence = parsed });
                return Cli.Ok;
            }
            if (records.Count == 0)
            {
                context.Output.Line($"no evidence recorded ({c.Source.Description})");
                return Cli.Ok;
            }
            var table = Output.Table("#", "record");
            for (var i = 0; i < records.Count; i++) Output.Row(table, i + 1, records[i]);
            context.Output.Write(table);
            return Cli.Ok;
        });
        return command;
    }
}
