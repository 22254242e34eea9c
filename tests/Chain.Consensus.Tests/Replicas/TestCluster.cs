using Chain.Accel;

namespace Chain.Consensus.Tests.Replicas;

/// <summary>
/// Digest = SHA-256(seq ‖ parent ‖ payload); every payload is valid. A 14-byte payload is a little block:
/// proposer (u16), view (u64), counter (u32); its proposer and view are reported for reputation.
/// </summary>
public sealed class HashingValidator : IProposalValidator
{
    public static byte[] Block(int proposer, ulong view, int counter)
    {
        var payload = new byte[14];
        BitConverter.TryWriteBytes(payload, (ushort)proposer);
        BitConverter.TryWriteBytes(payload.AsSpan(2), view);
        BitConverter.TryWriteBytes(payload.AsSpan(10), counter);
        return payload;
    }

    public ProposalCheck Describe(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload) => Check(seq, parent, payload);

    public ProposalCheck Check(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[40 + payload.Length];
        BitConverter.TryWriteBytes(bytes, seq.Value);
        parent.WriteTo(bytes.AsSpan(8));
        payload.CopyTo(bytes.AsSpan(40));
        var digest = Hash32.Sha256(bytes);
        return payload.Length == 14
            ? ProposalCheck.Accept(digest, new ReplicaId(BitConverter.ToUInt16(payload)), new View(BitConverter.ToUInt64(payload[2..])))
            : ProposalCheck.Accept(digest);
    }
}

/// <summary>
/// A scripted, lossless, FIFO cluster for scenario tests (the randomised simulator lives in Chain.Simulation):
/// hosts honour Ready (persist, then send, then commit and report Applied), and tests can silence, crash and
/// restart replicas or inject raw bytes.
/// </summary>
public sealed class TestCluster
{
    private readonly Queue<(int To, PeerMessage Message)> _network = new();
    private readonly ConsensusOptions _options;
    private readonly FakeKeys _keys;

    public TestCluster(int n, ConsensusOptions? options = null)
    {
        N = n;
        _options = options ?? new ConsensusOptions { CheckpointInterval = 4, Window = 8 };
        _keys = new FakeKeys(n);
        Ledgers = Enumerable.Range(0, n).Select(_ => new List<CommittedEntry>()).ToArray();
        Persisted = Enumerable.Range(0, n).Select(_ => new Dictionary<string, byte[]>()).ToArray();
        Replicas = Enumerable.Range(0, n).Select(Create).ToArray();
    }

    public static Hash32 Genesis { get; } = Hash32.Sha256("test-genesis"u8);
    public int N { get; }
    public Replica[] Replicas { get; }
    public List<CommittedEntry>[] Ledgers { get; }
    public Dictionary<string, byte[]>[] Persisted { get; }
    public HashSet<int> Silent { get; } = [];
    public List<(int Replica, ConsensusEvent Event)> Events { get; } = [];
    public List<Evidence> Evidence { get; } = [];
    public long MessagesSent { get; private set; }
    public long BytesSent { get; private set; }

    /// <summary>Replicas whose host stops proposing after this many blocks in any one view (a primary that stalls).</summary>
    public Dictionary<int, int> StallAfter { get; } = new();

    private readonly Dictionary<(int, ulong), int> _proposedInView = new();
    private int _payloads;

    private Replica Create(int i)
    {
        var committed = Ledgers[i].Count;
        var config = new ReplicaConfig(new ReplicaId((ushort)i), N, _options, new SeqNo((ulong)committed),
            committed == 0 ? Genesis : Ledgers[i][^1].Digest);
        return new Replica(config, _keys.SignerFor(new ReplicaId((ushort)i)), _keys, new HashingValidator(),
            Persisted[i].Select(kv => new PersistRecord(kv.Key, kv.Value)));
    }

    /// <summary>Crash replica i and start it again from what it persisted and committed.</summary>
    public void Restart(int i) => Replicas[i] = Create(i);

    public void Handle(int i, Ready ready)
    {
        foreach (var r in ready.Persist)
        {
            if (r.Value is null) Persisted[i].Remove(r.Key);
            else Persisted[i][r.Key] = r.Value;
        }
        foreach (var o in ready.Send)
        {
            for (var j = 0; j < N; j++)
            {
                if (j == i || (o.To is { } to && to.Value != j)) continue;
                _network.Enqueue((j, new PeerMessage(new ReplicaId((ushort)i), o.Bytes)));
                MessagesSent++;
                BytesSent += o.Bytes.Length;
            }
        }
        Ledgers[i].AddRange(ready.Committed);
        Events.AddRange(ready.Events.Select(e => (i, e)));
        Evidence.AddRange(ready.Evidence);
        if (ready.Committed.Count > 0) Handle(i, Replicas[i].Step(new Applied(ready.Committed[^1].Seq)));
    }

    public void Deliver(int to, PeerMessage message)
    {
        if (!Silent.Contains(to)) Handle(to, Replicas[to].Step(message));
    }

    /// <summary>Runs <paramref name="ticks"/> ticks; primaries propose until <paramref name="blocks"/> payloads exist.</summary>
    public void Run(int ticks, int blocks)
    {
        for (var t = 0; t < ticks; t++)
        {
            for (var i = 0; i < N; i++)
            {
                if (Silent.Contains(i)) continue;
                var status = Replicas[i].Status;
                var proposed = _proposedInView.GetValueOrDefault((i, status.View.Value));
                var stalls = StallAfter.TryGetValue(i, out var limit) && proposed >= limit;
                if (status.NextProposal is { } seq && _payloads < blocks && !stalls)
                {
                    _proposedInView[(i, status.View.Value)] = proposed + 1;
                    var payload = HashingValidator.Block(i, status.View.Value, _payloads++);
                    Handle(i, Replicas[i].Step(new Propose(seq, status.NextParent, payload)));
                }
                var pending = _payloads < blocks || Ledgers.Where((_, j) => !Silent.Contains(j)).Any(l => l.Count < blocks);
                Handle(i, Replicas[i].Step(new Tick(pending)));
            }
            while (_network.TryDequeue(out var m))
            {
                if (!Silent.Contains(m.Message.From.Value)) Deliver(m.To, m.Message);
            }
        }
    }

    /// <summary>No two ledgers differ at any height (I1).</summary>
    public void AssertAgreement()
    {
        var longest = Ledgers.Max(l => l.Count);
        for (var h = 0; h < longest; h++)
        {
            var digests = Ledgers.Where(l => l.Count > h).Select(l => l[h].Digest).Distinct().ToList();
            Assert.True(digests.Count == 1, $"agreement broken at height {h + 1}");
            Assert.All(Ledgers.Where(l => l.Count > h), l => Assert.Equal((ulong)(h + 1), l[h].Seq.Value));
        }
    }
}
