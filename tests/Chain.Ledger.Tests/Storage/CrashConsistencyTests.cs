using System.Diagnostics;
using Chain.Accel;
using Chain.Ledger.State;
using Chain.Ledger.Storage;
using Xunit.Abstractions;

namespace Chain.Ledger.Tests.Storage;

/// <summary>
/// Kills a process that is committing blocks to RocksDB (SIGKILL, at random moments) many times, and after
/// each kill reopens the store and checks: it opens; heights are contiguous and hash-linked from genesis;
/// every block the writer acknowledged is there; every stored transaction is indexed; and the recorded
/// state root equals a root recomputed from scratch over the stored state.
/// </summary>
public class CrashConsistencyTests(ITestOutputHelper output)
{
    private const int Kills = 20;

    [Fact]
    public void Store_reopens_consistent_after_repeated_SIGKILL_during_commits()
    {
        var seed = Environment.GetEnvironmentVariable("CHAIN_TEST_SEED") is { } s ? int.Parse(s) : Environment.TickCount;
        output.WriteLine($"seed {seed} (replay with CHAIN_TEST_SEED={seed})");
        var random = new Random(seed);
        using var dir = new TempDir();
        ulong acknowledged = 0;
        for (var round = 0; round < Kills; round++)
        {
            var ack = RunAndKill(dir.Path, random.Next(), random.Next(50, 900));
            acknowledged = Math.Max(acknowledged, ack);
            using var store = RocksDbLedgerStore.Open(dir.Path, Hash32.Sha256("crash-test-genesis"u8), 0);
            output.WriteLine($"round {round}: killed after ack {ack}, reopened at height {store.Height}");
            Assert.True(store.Height >= acknowledged, $"seed {seed}: acknowledged block {acknowledged} lost (height {store.Height})");
            CheckConsistent(store, seed);
        }
        Assert.True(acknowledged > 0, "the writer never committed a block");
    }

    private static ulong RunAndKill(string dir, int childSeed, int killAfterMs)
    {
        var writer = Path.Combine(AppContext.BaseDirectory, "Chain.Ledger.CrashWriter.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(writer);
        start.ArgumentList.Add(dir);
        start.ArgumentList.Add(childSeed.ToString());
        using var process = Process.Start(start)!;
        ulong acked = 0;
        var ready = new ManualResetEventSlim();
        var lastLine = "";
        var reader = Task.Run(() =>
        {
            string? line;
            while ((line = process.StandardOutput.ReadLine()) is not null)
            {
                lastLine = line;
                if (line.StartsWith("ready", StringComparison.Ordinal)) ready.Set();
                else if (line.StartsWith("committed ", StringComparison.Ordinal)) acked = ulong.Parse(line.Split(' ')[1]);
            }
        });
        if (!ready.Wait(TimeSpan.FromSeconds(60)))
        {
            process.Kill();
            throw new Xunit.Sdk.XunitException("writer did not start: " + process.StandardError.ReadToEnd() + lastLine);
        }
        Thread.Sleep(killAfterMs);
        process.Kill(entireProcessTree: true); // SIGKILL on Unix
        process.WaitForExit();
        reader.Wait(TimeSpan.FromSeconds(10));
        return acked;
    }

    private static void CheckConsistent(RocksDbLedgerStore store, int seed)
    {
        var previous = store.GenesisHash;
        for (ulong h = 1; h <= store.Height; h++)
        {
            var block = store.GetBlock(h);
            Assert.True(block is not null, $"seed {seed}: block {h} missing below tip {store.Height}");
            Assert.True(block!.Block.Header.PreviousHash == previous, $"seed {seed}: block {h} does not link");
            previous = block.Block.Hash;
            if (h == store.Height || h % 10 == 0)
            {
                for (var i = 0; i < block.Block.Transactions.Count; i++)
                    Assert.Equal(new TxLocation(h, i), store.GetTxLocation(block.Block.Transactions[i].Id));
            }
        }
        Assert.Equal(previous, store.TipHash);
        Assert.Null(store.GetBlock(store.Height + 1));
        var recomputed = SparseMerkleTree.ComputeRoot(store.ScanState([]).Select(kv =>
            (SparseMerkleTree.KeyHash(kv.Key), SparseMerkleTree.ValueDigest(kv.Value.Version, kv.Value.Value))));
        Assert.True(recomputed == store.StateRoot, $"seed {seed}: state root differs from the stored state");
    }
}
