using Chain.Accel;
using Chain.Consensus;
using Chain.Ledger;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Ledger.Validation;

namespace Chain.Node;

/// <summary>An uncommitted block this node has seen proposed: enough to check its children.</summary>
internal sealed record ProposedBlock(Hash32 Digest, Block Block, Hash32[] TxIds)
{
    public BlockHeader Header => Block.Header;
}

/// <summary>
/// The node's <see cref="IProposalValidator"/>: a payload is a canonical <see cref="Block"/> whose digest is its
/// hash. <see cref="Check"/> judges a fresh proposal against the committed ledger and the uncommitted blocks
/// this node has seen (its parent chain); <see cref="Describe"/> only decodes. Runs on the driver thread only.
/// Deterministic: reads only its arguments, committed blocks, and proposals already seen; no clock.
/// </summary>
internal sealed class BlockValidator(ILedgerStore store, TransactionValidator transactions, Mempool mempool, LedgerLimits limits,
    long genesisTimestamp)
    : IProposalValidator
{
    private readonly Dictionary<Hash32, ProposedBlock> _proposed = new();
    private readonly Dictionary<ulong, BlockHeader> _committedHeaders = new();

    public long Checks { get; private set; }

    public ProposalCheck Check(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload)
    {
        Checks++;
        var block = TryDecode(payload);
        if (block is null) return ProposalCheck.Reject("payload is not a canonical block");
        var h = block.Header;
        if (h.Height != seq.Value) return ProposalCheck.Reject($"block height {h.Height} is not {seq}");
        if (h.PreviousHash != parent) return ProposalCheck.Reject("block does not link to the proposed parent");
        var parentHeader = HeaderOf(seq.Value - 1, parent);
        if (parentHeader is null) return ProposalCheck.Reject($"parent {parent.Short} is unknown");
        if (h.Timestamp <= parentHeader.Timestamp) return ProposalCheck.Reject("timestamp is not after the parent's");
        if (h.ExecutedHeight < parentHeader.ExecutedHeight || h.ExecutedHeight >= h.Height)
            return ProposalCheck.Reject($"executed height {h.ExecutedHeight} is not in [{parentHeader.ExecutedHeight}, {h.Height - 1}]");
        if (h.ExecutedHeight > store.Height)
            return ProposalCheck.Reject($"executed height {h.ExecutedHeight} is above this node's {store.Height}");
        if (store.GetStateRoot(h.ExecutedHeight) != h.StateRoot)
            return ProposalCheck.Reject($"state root after {h.ExecutedHeight} does not match");
        var body = block.CheckBody();
        if (body is not null) return ProposalCheck.Reject(body);
        var inFlight = InFlight(seq.Value - 1, parent);
        var seen = new HashSet<Hash32>();
        var toVerify = new List<Transaction>();
        foreach (var tx in block.Transactions)
        {
            if (!seen.Add(tx.Id)) return ProposalCheck.Reject($"transaction {tx.Id.Short} appears twice");
            if (inFlight.Contains(tx.Id) || store.GetTxLocation(tx.Id) is not null)
                return ProposalCheck.Reject($"transaction {tx.Id.Short} is already ordered");
            var pending = mempool.Get(tx.Id);
            if (pending is not null && pending.Tx.Encoded.SequenceEqual(tx.Encoded)) continue; // verified at admission
            toVerify.Add(tx);
        }
        var failed = VerifyAll(toVerify);
        if (failed is not null) return ProposalCheck.Reject(failed);
        Remember(block);
        return ProposalCheck.Accept(block.Hash, new ReplicaId(h.Proposer), new View(h.View));
    }

    public ProposalCheck Describe(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload)
    {
        var block = TryDecode(payload);
        if (block is null) return ProposalCheck.Reject("payload is not a canonical block");
        Remember(block);
        return ProposalCheck.Accept(block.Hash, new ReplicaId(block.Header.Proposer), new View(block.Header.View));
    }

    /// <summary>A block seen in a proposal (by digest), if still held.</summary>
    public ProposedBlock? Proposed(Hash32 digest) => _proposed.GetValueOrDefault(digest);

    /// <summary>Header of the block at <paramref name="height"/> with hash <paramref name="digest"/>: committed or proposed.</summary>
    public BlockHeader? HeaderOf(ulong height, Hash32 digest)
    {
        if (height <= store.Height)
        {
            if (height == 0) return digest == store.GenesisHash ? GenesisHeader : null;
            if (!_committedHeaders.TryGetValue(height, out var header))
            {
                header = store.GetBlock(height)?.Block.Header;
                if (header is null) return null;
                _committedHeaders[height] = header;
            }
            return header.Hash() == digest ? header : null;
        }
        return _proposed.TryGetValue(digest, out var p) && p.Header.Height == height ? p.Header : null;
    }

    /// <summary>Transaction ids in the uncommitted ancestors of (and including) the block at <paramref name="height"/> with <paramref name="digest"/>.</summary>
    public HashSet<Hash32> InFlight(ulong height, Hash32 digest)
    {
        var ids = new HashSet<Hash32>();
        while (height > store.Height && _proposed.TryGetValue(digest, out var p))
        {
            ids.UnionWith(p.TxIds);
            digest = p.Header.PreviousHash;
            height--;
        }
        return ids;
    }

    /// <summary>Forgets proposals at or below the committed height, and remembers the committed header.</summary>
    public void Prune(ulong committedHeight, BlockHeader committed)
    {
        _committedHeaders[committedHeight] = committed;
        if (_committedHeaders.Count > 64)
        {
            foreach (var h in _committedHeaders.Keys.Where(h => h + 32 < committedHeight).ToList()) _committedHeaders.Remove(h);
        }
        if (_proposed.Count == 0) return;
        foreach (var key in _proposed.Where(kv => kv.Value.Header.Height <= committedHeight).Select(kv => kv.Key).ToList())
            _proposed.Remove(key);
    }

    private BlockHeader GenesisHeader { get; } = new(0, Hash32.Zero, Hash32.Zero, 0, Hash32.Zero, 0, 0, genesisTimestamp, 0);

    private void Remember(Block block)
    {
        if (block.Height <= store.Height || _proposed.ContainsKey(block.Hash)) return;
        _proposed[block.Hash] = new ProposedBlock(block.Hash, block, [.. block.Transactions.Select(t => t.Id)]);
    }

    private Block? TryDecode(ReadOnlySpan<byte> payload)
    {
        try
        {
            return Block.Decode(payload, limits);
        }
        catch (LedgerException)
        {
            return null;
        }
    }

    /// <summary>Checks chain, sender, contract and signature of each (signatures as one batch on the accelerator, skipping those already verified). Null when all pass.</summary>
    private string? VerifyAll(List<Transaction> txs)
    {
        if (txs.Count == 0) return null;
        var verdicts = transactions.CheckAll(txs);
        for (var i = 0; i < verdicts.Length; i++)
        {
            if (!verdicts[i].IsAccepted) return $"transaction {txs[i].Id.Short}: {verdicts[i].Message}";
        }
        return null;
    }
}
