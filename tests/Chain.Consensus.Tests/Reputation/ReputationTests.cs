namespace Chain.Consensus.Tests.Reputation;

/// <summary>The scoring rules of DESIGN.md "Primary selection by reputation", on hand-made block origins.</summary>
public class ReputationTests
{
    private static BlockOrigin B(ulong seq, int proposer, ulong view, params int[] penalised) =>
        new(new SeqNo(seq), new ReplicaId((ushort)proposer), new View(view))
        {
            Penalised = penalised.Select(p => new ReplicaId((ushort)p)).ToArray(),
        };

    private static int[] Order(Chain.Consensus.Reputation reputation, ulong anchor, ulong target) =>
        reputation.Schedule(new SeqNo(anchor), new View(target)).Order.Select(r => (int)r.Value).ToArray();

    [Fact]
    public void No_history_is_round_robin()
    {
        var schedule = new Chain.Consensus.Reputation(4, 100, 8).Schedule(new SeqNo(0), new View(3));
        Assert.Equal([0, 1, 2, 3], schedule.Order.Select(r => (int)r.Value));
        Assert.Equal(3, schedule.PrimaryOf(new View(3)).Value);
    }

    [Fact]
    public void Productive_replicas_rank_first_and_a_replica_that_ended_a_view_is_moved_back()
    {
        var reputation = new Chain.Consensus.Reputation(4, 100, 8);
        for (ulong s = 1; s <= 5; s++) reputation.Record(B(s, 2, 0));      // r2 leads view 0
        for (ulong s = 6; s <= 8; s++) reputation.Record(B(s, 1, 1));      // view 0 ended; r1 leads view 1
        // r2: 5 - 10 = -5 and cooled until view 1 + 8; r1: 3.
        Assert.Equal([1, 0, 3, 2], Order(reputation, anchor: 8, target: 2));
        Assert.Equal([1, 0, 3, 2], Order(reputation, anchor: 8, target: 10)); // cool-off over: by score, r2 (-5) last
    }

    [Fact]
    public void Evidence_recorded_in_a_block_costs_the_offender_its_rank()
    {
        var reputation = new Chain.Consensus.Reputation(4, 100, 8);
        for (ulong s = 1; s <= 20; s++) reputation.Record(B(s, 3, 0, s == 10 ? [3] : []));
        // r3 proposed 20 blocks (+20) but one block records evidence against it (-50).
        Assert.Equal(3, Order(reputation, anchor: 20, target: 1)[^1]);
    }

    [Fact]
    public void The_schedule_rotates_from_the_view_of_the_last_recorded_block()
    {
        var reputation = new Chain.Consensus.Reputation(4, 100, 8);
        reputation.Record(B(1, 2, 5));
        var schedule = reputation.Schedule(new SeqNo(1), new View(6));
        Assert.Equal(2, schedule.PrimaryOf(new View(5)).Value); // the replica that led the last block is position 0
        Assert.NotEqual(2, schedule.PrimaryOf(new View(6)).Value); // the next view goes to the next in rank
    }
}
