// Test support for the crash-consistency test: opens a RocksDB ledger store and commits random blocks
// (1-200 signed transactions, puts and deletes over a small key space) as fast as it can, printing
// "committed <height> <state root>" after each commit returns. The test kills it with SIGKILL at random
// moments and checks that the store reopens consistent and keeps every block this process acknowledged.
// Usage: Chain.Ledger.CrashWriter <dir> <seed>
using Chain.Accel;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

if (args.Length != 2 || !int.TryParse(args[1], out var seed))
{
    Console.Error.WriteLine("usage: Chain.Ledger.CrashWriter <dir> <seed>");
    return 2;
}

var random = new Random(seed);
var genesisHash = Hash32.Sha256("crash-test-genesis"u8);
using var validator = SigningKey.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray());
using var client = SigningKey.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray());
using var store = RocksDbLedgerStore.Open(args[0], genesisHash, 0);
Console.WriteLine($"ready {store.Height}");
Console.Out.Flush();
var timestamp = store.GetBlock(store.Height)?.Block.Header.Timestamp ?? 0;
while (true)
{
    var height = store.Height + 1;
    var txs = new List<Transaction>();
    var writes = new List<StateWrite>();
    var count = random.Next(1, 201);
    for (var i = 0; i < count; i++)
    {
        var key = System.Text.Encoding.UTF8.GetBytes($"k{random.Next(2000)}");
        var value = new byte[random.Next(0, 300)];
        random.NextBytes(value);
        txs.Add(Transaction.Create("crash", "kv", "put", [key, value], height * 1000 + (ulong)i, client));
        writes.Add(new StateWrite(key, random.Next(10) == 0 ? null : value));
    }
    timestamp++;
    var block = Block.Create(height, store.TipHash, store.Height, store.StateRoot, 0, 0, timestamp, txs);
    var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, height, 0, block.Hash);
    var cert = new CommitCertificate(CertificatePhase.Commit, height, 0, block.Hash, [new ReplicaSignature(0, validator.Sign(vote))]);
    var root = store.Commit(new CommittedBlock(block, cert), writes);
    Console.WriteLine($"committed {height} {root}");
    Console.Out.Flush();
}
