using Chain.Consensus.Messages;
using FsCheck;
using FsCheck.Fluent;

namespace Chain.Consensus.Tests;

/// <summary>
/// A value drawn from <c>new Random(Seed)</c>; FsCheck prints the seed with a counterexample, so
/// <c>ConsensusTestData.RandomX(new Random(seed), ...)</c> (or the same generator here) rebuilds it exactly.
/// </summary>
public sealed record Seeded<T>(int Seed, T Value)
{
    public override string ToString() => $"seed {Seed}: {Value}";
}

/// <summary>
/// FsCheck generators over <see cref="ConsensusTestData"/>: FsCheck draws a seed, <see cref="System.Random"/> the
/// replica count n and then the message.
/// </summary>
public static class Generators
{
    public static Gen<int> Seed { get; } = Gen.Choose(0, int.MaxValue - 1);

    public static Gen<Seeded<T>> FromRandom<T>(Func<System.Random, T> draw) =>
        Seed.Select(s => new Seeded<T>(s, draw(new System.Random(s))));

    public static Arbitrary<Seeded<T>> Arbitrary<T>(Func<System.Random, T> draw) => Arb.From(FromRandom(draw));

    /// <summary>n from <see cref="ConsensusTestData.RandomReplicaCount"/>, then a message for n replicas.</summary>
    public static Arbitrary<Seeded<InNetwork<T>>> InNetwork<T>(Func<System.Random, int, T> draw)
        where T : ConsensusMessage => Arbitrary(r =>
        {
            var n = ConsensusTestData.RandomReplicaCount(r);
            return new InNetwork<T>(n, draw(r, n));
        });

    public static Arbitrary<Seeded<InNetwork<PrePrepare>>> PrePrepares() =>
        InNetwork(ConsensusTestData.RandomPrePrepare);

    public static Arbitrary<Seeded<InNetwork<Vote>>> Votes() => InNetwork((r, n) => ConsensusTestData.RandomVote(r, n));

    public static Arbitrary<Seeded<InNetwork<CertificateMessage>>> CertificateMessages() =>
        InNetwork(ConsensusTestData.RandomCertificateMessage);

    public static Arbitrary<Seeded<InNetwork<Checkpoint>>> Checkpoints() =>
        InNetwork(ConsensusTestData.RandomCheckpoint);

    public static Arbitrary<Seeded<InNetwork<ViewChange>>> ViewChanges() =>
        InNetwork((r, n) => ConsensusTestData.RandomViewChange(r, n));

    public static Arbitrary<Seeded<InNetwork<NewView>>> NewViews() => InNetwork(ConsensusTestData.RandomNewView);

    /// <summary>A message of any of the six kinds.</summary>
    public static Arbitrary<Seeded<InNetwork<ConsensusMessage>>> Messages() =>
        InNetwork(ConsensusTestData.RandomMessage);
}
