using Chain.Chaincode;
using Chain.Ledger.Model;

namespace Chain.Cli;

/// <summary>Reading blocks and outcomes from the connection, checking that what comes back is what was asked for.</summary>
internal static class LedgerReader
{
    public static async Task<ulong> TipAsync(CommandContext context, Connection connection)
    {
        context.KeepAlive();
        return (await connection.Source.TipAsync(context.Cancellation).ConfigureAwait(false)).Height;
    }

    /// <summary>The committed block at <paramref name="height"/>; a <see cref="CliException"/> if the source has none.</summary>
    public static async Task<CommittedBlock> BlockAsync(CommandContext context, Connection connection, ulong height)
    {
        context.KeepAlive();
        var bytes = await connection.Source.GetBlockBytesAsync(height, context.Cancellation).ConfigureAwait(false);
        if (bytes is null)
        {
            var tip = await TipAsync(context, connection).ConfigureAwait(false);
            throw new CliException(height > tip
                ? $"no block at height {height}: the tip is at {tip}"
                : $"{connection.Source.Description} has no block at height {height} (tip {tip})");
        }
        var block = CommittedBlock.Decode(bytes);
        if (block.Height != height) throw new InvalidDataException($"{connection.Source.Description} returned block {block.Height} for height {height}");
        return block;
    }

    /// <summary>The outcomes of the block at <paramref name="height"/> (state <c>$results/&lt;height&gt;</c>), or null before it executed.</summary>
    public static async Task<IReadOnlyList<TxOutcome>?> OutcomesAsync(CommandContext context, Connection connection, ulong height)
    {
        context.KeepAlive();
        var bytes = await connection.Source.State.GetAsync(BlockResults.Key(height), context.Cancellation).ConfigureAwait(false);
        if (bytes is null) return null;
        try
        {
            return BlockResults.Decode(bytes);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"state $results/{height:D20} is malformed: {e.Message}", e);
        }
    }

    /// <summary>The outcome of the transaction at <paramref name="index"/> of a block, if known and consistent.</summary>
    public static TxOutcome? OutcomeAt(IReadOnlyList<TxOutcome>? outcomes, int index, Chain.Accel.Hash32 txId) =>
        outcomes is not null && index < outcomes.Count && outcomes[index].TxId == txId ? outcomes[index] : null;
}
