using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Consensus.Tests.Replicas;

/// <summary>Scripted scenarios, named after the PBFT sections (Castro &amp; Liskov, OSDI '99) they exercise.</summary>
public class ReplicaScenarioTests
{
    [Fact]
    public void S4_2_normal_case_linear_commits_every_block_on_the_fast_path_when_all_vote()
    {
        var cluster = new TestCluster(4);
        cluster.Run(ticks: 100, blocks: 20);
        cluster.AssertAgreement();
        Assert.All(cluster.Ledgers, l => Assert.Equal(20, l.Count));
        Assert.All(cluster.Ledgers[1], e => Assert.Equal((VotePhase.Prepare, 4), (e.Certificate.Phase, e.Certificate.Votes.Count)));
    }

    [Fact]
    public void S4_2_normal_case_classic_commits_with_quorum_commit_certificates_and_sends_more_messages()
    {
        var linear = new TestCluster(7);
        linear.Run(ticks: 100, blocks: 20);
        var classic = new TestCluster(7, new ConsensusOptions { Mode = ProtocolMode.Classic, CheckpointInterval = 4, Window = 8 });
        classic.Run(ticks: 100, blocks: 20);
        classic.AssertAgreement();
        Assert.All(classic.Ledgers, l => Assert.Equal(20, l.Count));
        Assert.All(classic.Ledgers[0], e => Assert.Equal(VotePhase.Commit, e.Certificate.Phase));
        Assert.All(classic.Ledgers[0], e => Assert.True(e.Certificate.Votes.Count >= 5));
        Assert.True(classic.MessagesSent > 2 * linear.MessagesSent, $"classic {classic.MessagesSent} vs linear {linear.MessagesSent}");
    }

    [Fact]
    public void Without_one_vote_the_linear_path_takes_two_collected_rounds_with_quorum_certificates()
    {
        var cluster = new TestCluster(4);
        cluster.Silent.Add(3);
        cluster.Run(ticks: 100, blocks: 10);
        Assert.Equal(10, cluster.Ledgers[0].Count);
        Assert.All(cluster.Ledgers[0], e => Assert.Equal((VotePhase.Commit, 3), (e.Certificate.Phase, e.Certificate.Votes.Count)));
    }

    [Fact]
    public void S4_4_a_silent_primary_is_replaced_by_a_view_change_and_commits_continue()
    {
        var cluster = new TestCluster(4);
        cluster.Silent.Add(0);
        cluster.Run(ticks: 300, blocks: 10);
        cluster.AssertAgreement();
        Assert.All(cluster.Ledgers.Skip(1), l => Assert.Equal(10, l.Count));
        Assert.Contains(cluster.Events, e => e.Event is NewViewInstalled { Primary.Value: 1 });
    }

    [Fact]
    public void S4_4_blocks_prepared_before_a_view_change_are_kept_in_the_new_view()
    {
        var cluster = new TestCluster(4);
        cluster.Run(ticks: 30, blocks: 6);
        var before = cluster.Ledgers[1].Select(e => e.Digest).ToList();
        cluster.Silent.Add(0); // the primary fails; more work arrives
        cluster.Run(ticks: 300, blocks: 12);
        cluster.AssertAgreement();
        Assert.Equal(before, cluster.Ledgers[1].Take(before.Count).Select(e => e.Digest));
        Assert.Equal(12, cluster.Ledgers[2].Count);
    }

    [Fact]
    public void S4_3_checkpoints_truncate_the_log_so_it_stays_bounded()
    {
        var cluster = new TestCluster(4);
        cluster.Run(ticks: 400, blocks: 100);
        Assert.All(cluster.Ledgers, l => Assert.Equal(100, l.Count));
        Assert.All(cluster.Replicas, r => Assert.Equal(100UL, r.Status.StableCheckpoint.Value));
        Assert.All(cluster.Replicas, r => Assert.True(r.Status.LogSize <= 100, $"log size {r.Status.LogSize}"));
        Assert.All(cluster.Persisted, p => Assert.True(p.Count <= 2 + 8, $"{p.Count} persisted records"));
    }

    [Fact]
    public void A_restarted_replica_never_signs_a_second_vote_for_the_same_slot()
    {
        var cluster = new TestCluster(4);
        cluster.Run(ticks: 1, blocks: 1);
        var slotRecord = cluster.Persisted[1].Keys.Single(k => k.StartsWith("consensus/slot/", StringComparison.Ordinal));
        cluster.Restart(1);
        // The (honest) primary cannot help, so forge what an equivocating primary would send: a second proposal for #1.
        var keys = new FakeKeys(4);
        var unsigned = new PrePrepare(new ReplicaId(0), new View(0), new SeqNo(1), TestCluster.Genesis,
            new HashingValidator().Check(new SeqNo(1), TestCluster.Genesis, "other"u8).Digest, "other"u8.ToArray(), default);
        var forged = unsigned with { Signature = keys.Sign(new ReplicaId(0), MessageCodec.SigningBytes(unsigned)!) };
        var ready = cluster.Replicas[1].Step(new PeerMessage(new ReplicaId(0), MessageCodec.Encode(forged)));
        Assert.DoesNotContain(ready.Send, o => o.Message is Vote);
        Assert.Contains(slotRecord, cluster.Persisted[1].Keys);
    }

    [Fact]
    public void An_equivocating_primary_produces_evidence()
    {
        var cluster = new TestCluster(4);
        var keys = new FakeKeys(4);
        PrePrepare Proposal(string payload)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(payload);
            var digest = new HashingValidator().Check(new SeqNo(1), TestCluster.Genesis, bytes).Digest;
            var unsigned = new PrePrepare(new ReplicaId(0), new View(0), new SeqNo(1), TestCluster.Genesis, digest, bytes, default);
            return unsigned with { Signature = keys.Sign(new ReplicaId(0), MessageCodec.SigningBytes(unsigned)!) };
        }
        cluster.Deliver(2, new PeerMessage(new ReplicaId(0), MessageCodec.Encode(Proposal("a"))));
        cluster.Deliver(2, new PeerMessage(new ReplicaId(0), MessageCodec.Encode(Proposal("b"))));
        var evidence = Assert.Single(cluster.Evidence);
        Assert.Equal(("conflicting-preprepare", 0), (evidence.Kind, (int)evidence.Offender.Value));
    }

    [Fact]
    public void Peer_input_never_throws_and_every_drop_is_counted()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var cluster = new TestCluster(4);
        cluster.Run(ticks: 5, blocks: 3);
        var replica = cluster.Replicas[2];
        var dropped = 0L;
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            if (i % 3 == 0 && bytes.Length > 2) bytes[0] = (byte)random.Next(0x40, 0x46);
            var ready = replica.Step(new PeerMessage(new ReplicaId((ushort)random.Next(4)), bytes));
            dropped = ready.Status.Dropped.Values.Sum();
        }
        Assert.True(dropped >= 2000 - 10, $"seed {seed}: only {dropped} drops counted");
    }
}

/// <summary>Reputation-based primary selection against round-robin, on the same linear protocol.</summary>
public class ReputationScenarioTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static (int ViewChanges, int Committed, int LedByStaller) Run(bool reputation)
    {
        var options = new ConsensusOptions { CheckpointInterval = 4, Window = 8, UseReputation = reputation };
        var cluster = new TestCluster(4, options);
        cluster.StallAfter[0] = 3; // r0 leads a few blocks, then stalls every view it leads
        for (var i = 1; i < 4; i++) cluster.StallAfter[i] = 15; // honest primaries are cut off now and then
        cluster.Run(ticks: 3000, blocks: 120);
        cluster.AssertAgreement();
        var views = cluster.Events.Where(e => e.Replica == 2).Select(e => e.Event).OfType<NewViewInstalled>().ToList();
        return (views.Count, cluster.Ledgers[2].Count, views.Count(v => v.Primary.Value == 0));
    }

    [Fact]
    public void A_primary_that_stalls_is_passed_over_instead_of_stalling_the_system_repeatedly()
    {
        var roundRobin = Run(reputation: false);
        var reputation = Run(reputation: true);
        output.WriteLine($"round-robin: {roundRobin}; reputation: {reputation}");
        Assert.Equal(120, reputation.Committed);
        Assert.Equal(120, roundRobin.Committed);
        Assert.True(reputation.LedByStaller == 0, $"the staller led {reputation.LedByStaller} views again");
        Assert.True(roundRobin.LedByStaller >= 2, $"round-robin gave the staller {roundRobin.LedByStaller} views");
        Assert.True(reputation.ViewChanges < roundRobin.ViewChanges,
            $"view changes: reputation {reputation.ViewChanges}, round-robin {roundRobin.ViewChanges}");
    }
}
