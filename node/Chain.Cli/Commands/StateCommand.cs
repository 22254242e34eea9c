using System.CommandLine;
using System.Text;
using Chain.Accel;
using Chain.Api.V1;
using Chain.Client.Sources;
using Chain.Ledger;
using Chain.Ledger.State;
using Google.Protobuf;

namespace Chain.Cli.Commands;

/// <summary><c>state get KEY</c>: one state entry; online its proof is checked against the state root the node returns.</summary>
internal static class StateCommand
{
    public static Command Create(CliEnvironment env)
    {
        var key = new Argument<string>("key") { Description = "The full state key, e.g. kv/telemetry/x or models/iomt-ids/v/1." };
        var get = new Command("get", "A state entry's value (UTF-8, or hex) and version; online with its state proof checked. Exit 1 if the proof fails.")
        {
            key,
        };
        Cli.SetAction(get, env, async context =>
        {
            var text = context.Value(key) ?? "";
            var bytes = Encoding.UTF8.GetBytes(text);
            if (bytes.Length is 0 || bytes.Length > LedgerLimits.Default.MaxStateKeyBytes || text.Any(char.IsControl))
            {
                throw new CliException($"state key '{Args.Show(text)}' must be 1-{LedgerLimits.Default.MaxStateKeyBytes} bytes without control characters");
            }
            var c = await context.ConnectAsync().ConfigureAwait(false);
            return c.Online ? await OnlineAsync(context, c, text, bytes).ConfigureAwait(false) : Offline(context, c, text, bytes);
        });
        return new Command("state", "Read current state.") { get };
    }

    private static int Offline(CommandContext context, Connection c, string text, byte[] key)
    {
        var store = ((StoreLedgerSource)c.Source).Store;
        var entry = store.GetState(key) ?? throw new CliException($"state key {Args.Show(text)} is absent ({c.Source.Description})");
        var (value, encoding) = Output.Bytes(entry.Value);
        if (context.Output.Json)
        {
            context.Output.WriteJson(new
            {
                key = text,
                value,
                encoding,
                version = entry.Version,
                height = store.Height,
                stateRoot = store.StateRoot.ToString(),
                proof = "none: read from the local store",
            });
            return Cli.Ok;
        }
        context.Output.Fields(("key", text), ("value", value), ("encoding", encoding), ("version", $"written at height {entry.Version}"),
            ("source", $"{c.Source.Description} (local store at height {store.Height}; no proof needed)"));
        return Cli.Ok;
    }

    private static async Task<int> OnlineAsync(CommandContext context, Connection c, string text, byte[] key)
    {
        context.KeepAlive();
        var r = await c.Client!.Api.QueryStateAsync(new QueryStateRequest { Key = ByteString.CopyFrom(key) }, cancellationToken: context.Cancellation)
            .ConfigureAwait(false);
        if (r.StateRoot.Length != Hash32.Size) throw new InvalidDataException($"{c.Source.Description} returned a malformed state root");
        var root = Hash32.FromBytes(r.StateRoot.Span);
        var proof = StateProof.Decode(r.Proof.Span);
        var proven = r.Found
            ? proof.VerifyInclusion(root, SparseMerkleTree.ValueDigest(r.Version, r.Value.Span))
            : proof.VerifyAbsence(root);
        var keyHashOk = proof.KeyHash == SparseMerkleTree.KeyHash(key);
        proven &= keyHashOk;
        var (value, encoding) = Output.Bytes(r.Value.Span);
        var proofText = $"{(r.Found ? "inclusion" : "absence")} proof against state root {root} at height {r.Height}: {(proven ? "verified" : "FAILED")}";
        if (context.Output.Json)
        {
            context.Output.WriteJson(new
            {
                key = text,
                found = r.Found,
                value = r.Found ? value : null,
                encoding = r.Found ? encoding : null,
                version = r.Found ? r.Version : (ulong?)null,
                height = r.Height,
                stateRoot = root.ToString(),
                proofVerified = proven,
            });
        }
        else
        {
            context.Output.Fields(("key", text), ("value", r.Found ? value : "(absent)"), ("encoding", r.Found ? encoding : ""),
                ("version", r.Found ? $"written at height {r.Version}" : ""), ("proof", proofText));
        }
        if (!proven) return Cli.CheckFailed;
        if (!r.Found && !context.Output.Json) await context.Env.Stderr.WriteLineAsync($"error: state key {Args.Show(text)} is absent (proven)").ConfigureAwait(false);
        return r.Found ? Cli.Ok : Cli.Error;
    }
}
