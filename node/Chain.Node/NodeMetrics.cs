using Chain.Accel.Offload;
using Chain.Ledger.Validation;
using Prometheus;

namespace Chain.Node;

/// <summary>The node's Prometheus metrics (text format on /metrics). No patient data: counts, heights and durations only.</summary>
public sealed class NodeMetrics
{
    private readonly object _rateLock = new();
    private readonly Queue<(long At, int Count)> _recent = new();

    public NodeMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        Height = f.CreateGauge("chain_height", "Height of the last committed block.");
        View = f.CreateGauge("chain_view", "Current consensus view.");
        MempoolSize = f.CreateGauge("chain_mempool_size", "Transactions admitted and not yet committed.");
        PeersConnected = f.CreateGauge("chain_peers_connected", "Peers this node has an open outbound stream to.");
        CommittedTransactions = f.CreateCounter("chain_committed_transactions_total", "Transactions committed.");
        CommittedBlocks = f.CreateCounter("chain_committed_blocks_total", "Blocks committed.");
        TxPerSecond = f.CreateGauge("chain_committed_tx_per_second", "Committed transactions per second over the last 10 seconds.");
        CommitLatency = f.CreateHistogram("chain_commit_latency_seconds",
            "From admission at this node to commit, for transactions its clients submitted.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 1.6, 22) });
        BlockRound = f.CreateHistogram("chain_block_round_seconds",
            "At the proposer: from proposing a block to committing it.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 1.6, 22) });
        PersistSeconds = f.CreateHistogram("chain_consensus_persist_seconds",
            "One synced write of the consensus records a driver pass produced (before its messages are sent).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });
        ExecuteSeconds = f.CreateHistogram("chain_block_execute_seconds",
            "Executing one committed block through the contracts.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });
        FailedTransactions = f.CreateCounter("chain_failed_transactions_total", "Committed transactions the contracts refused (no effect).");
        StoreCommitSeconds = f.CreateHistogram("chain_block_store_seconds",
            "Storing one executed block with its state changes (one synced write).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });
        ViewChanges = f.CreateCounter("chain_view_changes_total", "New views installed.");
        Dropped = f.CreateCounter("chain_consensus_dropped_messages_total", "Peer messages consensus dropped, by reason.", "reason");
        PeerQueueDropped = f.CreateCounter("chain_peer_queue_dropped_total", "Frames dropped because a peer's send queue was full.");
        Rejected = f.CreateCounter("chain_rejected_transactions_total", "Transactions refused at admission, by reason.", "reason");
        StateTransferBlocks = f.CreateCounter("chain_state_transfer_blocks_total", "Blocks fetched from peers by state transfer.");
        BlobsStored = f.CreateCounter("chain_blobs_stored_total", "Off-chain blobs stored (Blobs.Put of a new blob).");
        BlobBytes = f.CreateGauge("chain_blob_store_bytes", "Bytes held in the off-chain blob store.");
    }

    public CollectorRegistry Registry { get; }
    public Gauge Height { get; }
    public Gauge View { get; }
    public Gauge MempoolSize { get; }
    public Gauge PeersConnected { get; }
    public Counter CommittedTransactions { get; }
    public Counter CommittedBlocks { get; }
    public Gauge TxPerSecond { get; }
    public Histogram CommitLatency { get; }
    public Histogram BlockRound { get; }
    public Histogram PersistSeconds { get; }
    public Histogram StoreCommitSeconds { get; }
    public Histogram ExecuteSeconds { get; }
    public Counter FailedTransactions { get; }
    public Counter ViewChanges { get; }
    public Counter Dropped { get; }
    public Counter PeerQueueDropped { get; }
    public Counter Rejected { get; }
    public Counter StateTransferBlocks { get; }
    public Counter BlobsStored { get; }
    public Gauge BlobBytes { get; }

    internal void BlobStored(int bytes)
    {
        BlobsStored.Inc();
        BlobBytes.Inc(bytes);
    }

    /// <summary>Records <paramref name="count"/> transactions committed at <paramref name="nowMs"/> and updates the 10-second rate.</summary>
    internal void Committed(int count, long nowMs)
    {
        if (count > 0)
        {
            CommittedTransactions.Inc(count);
            CommittedBlocks.Inc();
        }
        lock (_rateLock)
        {
            _recent.Enqueue((nowMs, count));
            while (_recent.Count > 0 && _recent.Peek().At < nowMs - 10_000) _recent.Dequeue();
            TxPerSecond.Set(_recent.Sum(r => r.Count) / 10.0);
        }
    }

    /// <summary>
    /// Exposes the accelerator: <c>chain_accelerator_info{backend,device}</c>, whether it was disabled, its faults,
    /// batches and items offloaded or kept on the CPU reference, and items cross-checked (read at each scrape).
    /// </summary>
    internal void Track(IAccelerator accelerator)
    {
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        f.CreateGauge("chain_accelerator_info", "The configured accelerator backend (value 1).", "backend", "device")
            .WithLabels(accelerator.Name, accelerator.Capabilities.Device).Set(1);
        if (accelerator is not CheckedAccelerator watched) return;
        var disabled = f.CreateGauge("chain_accelerator_disabled", "1 when the backend was caught giving a wrong result and switched off.");
        var faults = f.CreateGauge("chain_accelerator_faults_total", "Wrong results or failures caught by cross-checking (the backend is then disabled).");
        var offloaded = f.CreateGauge("chain_accelerator_offloaded_batches_total", "Batches run on the backend.");
        var items = f.CreateGauge("chain_accelerator_offloaded_items_total", "Items (digests, Merkle nodes, signatures, chunks) run on the backend.");
        var reference = f.CreateGauge("chain_accelerator_reference_batches_total", "Batches run on the CPU reference (unsupported, too small, or after a fault).");
        var checkedItems = f.CreateGauge("chain_accelerator_cross_checked_items_total", "Backend results recomputed on the CPU reference and compared.");
        Registry.AddBeforeCollectCallback(() =>
        {
            var stats = watched.Stats;
            disabled.Set(watched.Disabled ? 1 : 0);
            faults.Set(stats.FaultCount);
            offloaded.Set(stats.BatchesOffloaded);
            items.Set(stats.ItemsOffloaded);
            reference.Set(stats.BatchesOnReference);
            checkedItems.Set(stats.ItemsCrossChecked);
        });
    }

    /// <summary>Exposes the signature cache's hits (signature checks saved) and misses.</summary>
    internal void Track(VerificationCache cache)
    {
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        var hits = f.CreateGauge("chain_signature_cache_hits_total", "Signature checks skipped because the transaction was already verified.");
        var misses = f.CreateGauge("chain_signature_cache_misses_total", "Signature checks the cache could not answer.");
        Registry.AddBeforeCollectCallback(() =>
        {
            hits.Set(cache.Hits);
            misses.Set(cache.Misses);
        });
    }
}
