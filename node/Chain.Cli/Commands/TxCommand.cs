using System.CommandLine;
using Chain.Accel;
using Chain.Api.V1;
using Chain.Ledger.Merkle;
using Chain.Ledger.Model;
using Grpc.Core;
using MerkleProof = Chain.Ledger.Merkle.MerkleProof;
using Transaction = Chain.Ledger.Model.Transaction;

namespace Chain.Cli.Commands;

/// <summary>
/// <c>tx ID</c>: a committed transaction, its block and local checks: its bytes hash to its id, its signature, its Merkle
/// proof to the header's transaction root (computed here offline, the node's online) and the block's commit certificate
/// against the genesis keys; plus its outcome. Exit 1 if a check fails.
/// </summary>
internal static class TxCommand
{
    private sealed record Check(string Name, bool Ok, string Detail);

    public static Command Create(CliEnvironment env)
    {
        var id = new Argument<string>("id") { Description = "The transaction id (64 hex characters)." };
        var command = new Command("tx", "One transaction with its block, checked locally (id, signature, Merkle proof, commit certificate). Exit 1 if a check fails.")
        {
            id,
        };
        Cli.SetAction(command, env, async context =>
        {
            var txId = Args.TxId(context.Value(id));
            var c = await context.ConnectAsync().ConfigureAwait(false);
            var read = c.Online ? await OnlineAsync(context, c, txId).ConfigureAwait(false) : await OfflineAsync(context, c, txId).ConfigureAwait(false);
            return Report(context, c, txId, read);
        });
        return command;
    }

    private sealed record Read(byte[] TxBytes, BlockHeader Header, MerkleProof Proof, CommitCertificate Certificate, Outcome? Outcome);

    private sealed record Outcome(bool Succeeded, string? Error, IReadOnlyList<(string Contract, string Name, byte[] Data)> Events);

    private static async Task<Read> OfflineAsync(CommandContext context, Connection c, Hash32 txId)
    {
        var height = await c.Source.FindTransactionAsync(txId, context.Cancellation).ConfigureAwait(false)
            ?? throw new CliException($"transaction {txId} is not in the ledger ({c.Source.Description})");
        var block = await LedgerReader.BlockAsync(context, c, height).ConfigureAwait(false);
        var index = -1;
        for (var i = 0; i < block.Block.Transactions.Count; i++)
        {
            if (block.Block.Transactions[i].Id == txId)
            {
                index = i;
                break;
            }
        }
        if (index < 0) throw new InvalidDataException($"the transaction index points to block {height}, which does not hold {txId}");
        var outcomes = await LedgerReader.OutcomesAsync(context, c, height).ConfigureAwait(false);
        var o = LedgerReader.OutcomeAt(outcomes, index, txId);
        return new Read(block.Block.Transactions[index].Encoded.ToArray(), block.Block.Header, block.Block.ProveTransaction(index), block.Certificate,
            o is null ? null : new Outcome(o.Success, o.Error, [.. o.Events.Select(e => (e.Contract, e.Name, e.Data))]));
    }

    private static async Task<Read> OnlineAsync(CommandContext context, Connection c, Hash32 txId)
    {
        context.KeepAlive();
        GetTransactionResponse r;
        try
        {
            r = await c.Client!.Api.GetTransactionAsync(new GetTransactionRequest { TxId = txId.ToString() }, cancellationToken: context.Cancellation)
                .ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            throw new CliException($"transaction {txId} is neither committed nor pending at {c.Source.Description}");
        }
        if (r.Status == TxStatus.Pending) throw new CliException($"transaction {txId} is pending at {c.Source.Description}: not committed yet");
        if (r.Status != TxStatus.Committed) throw new CliException($"transaction {txId}: the node reports status {r.Status}");
        if (r.Proof is null) throw new InvalidDataException($"{c.Source.Description} returned no Merkle proof");
        var header = BlockHeader.Decode(r.BlockHeader.Span);
        if (header.Height != r.Height) throw new InvalidDataException($"{c.Source.Description} returned header {header.Height} for block {r.Height}");
        if (r.Proof.LeafCount > int.MaxValue || r.Proof.Index > int.MaxValue || r.Proof.Siblings.Count > 64
            || r.Proof.Siblings.Any(s => s.Length != Hash32.Size))
            throw new InvalidDataException($"{c.Source.Description} returned a malformed Merkle proof");
        var proof = new MerkleProof((int)r.Proof.Index, (int)r.Proof.LeafCount, [.. r.Proof.Siblings.Select(s => Hash32.FromBytes(s.Span))]);
        // A node that has not executed the block yet sends neither success nor an error: unknown.
        var outcome = r.Succeeded || r.Error.Length > 0 || r.Events.Count > 0
            ? new Outcome(r.Succeeded, r.Succeeded ? null : r.Error, [.. r.Events.Select(e => (e.Contract, e.Name, e.Data.ToByteArray()))])
            : null;
        return new Read(r.Transaction.ToByteArray(), header, proof, CommitCertificate.Decode(r.CommitCertificate.Span), outcome);
    }

    private static int Report(CommandContext context, Connection c, Hash32 txId, Read read)
    {
        var checks = new List<Check>();
        Transaction? tx = null;
        try
        {
            tx = Transaction.Decode(read.TxBytes);
        }
        catch (Chain.Ledger.DecodeException e)
        {
            checks.Add(new Check("decodes", false, $"the transaction bytes are malformed: {e.Message}"));
        }
        if (tx is not null)
        {
            checks.Add(new Check("id", tx.Id == txId, tx.Id == txId ? "the transaction bytes hash to its id" : $"the bytes hash to {tx.Id}, not {txId}"));
            var signed = tx.VerifySignature();
            checks.Add(new Check("signature", signed, signed ? $"signed by {Output.MemberText(c.Genesis, tx.Sender)}" : "the signature does not verify"));
            checks.Add(new Check("chain", tx.ChainId == c.Genesis.ChainId,
                tx.ChainId == c.Genesis.ChainId ? $"for chain {tx.ChainId}" : $"for chain '{tx.ChainId}', not {c.Genesis.ChainId}"));
        }
        var merkle = read.Proof.LeafCount == read.Header.TxCount && MerkleTree.Verify(read.Header.TxRoot, MerkleTree.LeafHash(read.TxBytes), read.Proof);
        checks.Add(new Check("merkle", merkle, merkle
            ? $"Merkle proof (leaf {read.Proof.Index} of {read.Proof.LeafCount}) leads to the header's transaction root {read.Header.TxRoot.Short}"
            : "the Merkle proof does not lead to the header's transaction root"));
        var blockHash = read.Header.Hash();
        var problem = read.Certificate.Check(blockHash, read.Header.Height, c.Genesis.Validators);
        checks.Add(new Check("certificate", problem is null, problem is null
            ? $"commit certificate: {read.Certificate.Signatures.Count} of {c.Genesis.Validators.Count} validator signatures over block {blockHash.Short} ({read.Certificate.Phase})"
            : $"commit certificate INVALID: {problem}"));
        var ok = checks.All(x => x.Ok);
        var (org, name) = tx is null ? (null, null) : Output.Member(c.Genesis, tx.Sender);
        var args = tx?.Args.Select(a => Output.Bytes(a.Span)).ToList() ?? [];

        if (context.Output.Json)
        {
            context.Output.WriteJson(new
            {
                id = txId.ToString(),
                valid = ok,
                contract = tx?.Contract,
                function = tx?.Function,
                args = args.Select(a => new { value = a.Text, encoding = a.Encoding }),
                sender = tx?.Sender.ToString(),
                senderOrganisation = org,
                senderName = name,
                nonce = tx?.Nonce,
                height = read.Header.Height,
                blockHash = blockHash.ToString(),
                timestamp = Output.Time(read.Header.Timestamp),
                checks = checks.Select(x => new { name = x.Name, ok = x.Ok, detail = x.Detail }),
                outcome = read.Outcome is null ? null : new
                {
                    succeeded = read.Outcome.Succeeded,
                    error = read.Outcome.Error,
                    events = read.Outcome.Events.Select(e =>
                    {
                        var (text, encoding) = Output.Bytes(e.Data);
                        return new { contract = e.Contract, name = e.Name, data = text, encoding };
                    }),
                },
            });
            return ok ? Cli.Ok : Cli.CheckFailed;
        }
        var fields = new List<(string, object?)> { ("transaction", txId) };
        if (tx is not null)
        {
            fields.Add(("contract", tx.Contract));
            fields.Add(("function", tx.Function));
            for (var i = 0; i < args.Count; i++) fields.Add(($"arg {i}", args[i].Encoding == "hex" ? $"0x{args[i].Text}" : args[i].Text));
            fields.Add(("sender", $"{Output.MemberText(c.Genesis, tx.Sender)} ({tx.Sender})"));
            fields.Add(("nonce", tx.Nonce));
        }
        fields.Add(("block", $"{read.Header.Height} {blockHash} at {Output.Time(read.Header.Timestamp)}"));
        fields.Add(("outcome", read.Outcome is null ? "unknown (the block's results are not available)"
            : read.Outcome.Succeeded ? "succeeded" : $"error: {read.Outcome.Error}"));
        foreach (var e in read.Outcome?.Events ?? [])
        {
            var (text, encoding) = Output.Bytes(e.Data);
            fields.Add(("event", $"{e.Contract}.{e.Name} {(encoding == "hex" ? "0x" + text : text)}"));
        }
        context.Output.Fields([.. fields]);
        context.Output.Line();
        foreach (var x in checks) context.Output.Line($"  {(x.Ok ? "ok  " : "FAIL")} {x.Detail}");
        context.Output.Line(ok ? "all checks passed" : "CHECKS FAILED");
        return ok ? Cli.Ok : Cli.CheckFailed;
    }
}
