using Chain.Ledger.Model;
using FsCheck;
using FsCheck.Fluent;

namespace Chain.Ledger.Tests;

/// <summary>
/// A value drawn from <c>new Random(Seed)</c>; FsCheck prints the seed with a counterexample, so
/// <c>TestData.RandomX(new Random(seed))</c> rebuilds it exactly.
/// </summary>
public sealed record Seeded<T>(int Seed, T Value)
{
    public override string ToString() => $"seed {Seed}: {Value}";
}

/// <summary>
/// FsCheck generators over <see cref="TestData"/>: FsCheck draws a seed, <see cref="System.Random"/> the object.
/// </summary>
public static class Generators
{
    public static Gen<int> Seed { get; } = Gen.Choose(0, int.MaxValue - 1);

    public static Gen<Seeded<T>> FromRandom<T>(Func<System.Random, T> draw) =>
        Seed.Select(s => new Seeded<T>(s, draw(new System.Random(s))));

    public static Arbitrary<Seeded<T>> Arbitrary<T>(Func<System.Random, T> draw) => Arb.From(FromRandom(draw));

    public static Arbitrary<Seeded<Transaction>> Transactions() => Arbitrary(r => TestData.RandomTransaction(r));

    public static Arbitrary<Seeded<BlockHeader>> Headers() => Arbitrary(TestData.RandomHeader);

    public static Arbitrary<Seeded<Block>> Blocks() => Arbitrary(r => TestData.RandomBlock(r));

    public static Arbitrary<Seeded<CommitCertificate>> Certificates() => Arbitrary(r => TestData.RandomCertificate(r));

    public static Arbitrary<Seeded<CommittedBlock>> CommittedBlocks() =>
        Arbitrary(r => TestData.RandomCommittedBlock(r));
}
