using Chain.Accel;
using Chain.Ledger.Identity;
using Chain.Ledger.Storage;

namespace Chain.Testnet.Tests;

public sealed class DemoTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-demo-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Demo_commits_audits_and_continues_from_the_stored_height()
    {
        var output = new StringWriter();
        var first = LedgerDemo.Run(_dir, 3, 10, output);
        Assert.Empty(first.AuditProblems);
        Assert.Equal((0UL, 3UL, 30, 3), (first.StartHeight, first.EndHeight, first.Committed, first.Rejected));
        Assert.Contains("UnknownContract", output.ToString());
        Assert.Contains("BadSignature", output.ToString());
        Assert.Contains("UnknownSender", output.ToString());
        Assert.Contains("audit: OK", output.ToString());

        var second = LedgerDemo.Run(_dir, 2, 5, new StringWriter());
        Assert.Empty(second.AuditProblems);
        Assert.Equal((3UL, 5UL), (second.StartHeight, second.EndHeight));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "keys", "node0.key")));
    }

    [Fact]
    public void Audit_reports_every_certificate_not_signed_by_the_genesis_validators()
    {
        LedgerDemo.Run(_dir, 2, 3, new StringWriter());
        var genesis = Genesis.LoadFile(Path.Combine(_dir, "genesis.json"));
        using var store = RocksDbLedgerStore.Open(Path.Combine(_dir, "ledger"), genesis);
        Assert.Empty(LedgerDemo.Audit(store, genesis, new StringWriter()));

        // The same ledger audited against a genesis whose validator key is someone else's.
        using var stranger = SigningKey.Generate();
        var doc = genesis.ToDocument();
        doc.Organisations[0].Nodes![0] = doc.Organisations[0].Nodes![0] with { PublicKey = stranger.PublicKey.ToString() };
        var problems = LedgerDemo.Audit(store, Genesis.FromDocument(doc), new StringWriter());
        Assert.Equal(2, problems.Count(p => p.Contains("certificate: signature of replica 0 is forged", StringComparison.Ordinal)));
    }

    [Fact]
    public void Cli_keygen_writes_an_owner_only_key_and_bad_arguments_fail_with_one_line()
    {
        Directory.CreateDirectory(_dir);
        var key = Path.Combine(_dir, "k.key");
        var (code, stdout, _) = RunCli("keygen", "--out", key, "--name", "test");
        Assert.Equal(0, code);
        Assert.Contains("public key", stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));

        var (again, _, error) = RunCli("keygen", "--out", key);
        Assert.Equal(2, again);
        Assert.StartsWith("error:", error.Trim());

        var (blocks, _, blocksError) = RunCli("demo", "--dir", _dir, "--blocks", "0");
        Assert.Equal(2, blocks);
        Assert.Contains("--blocks must be between", blocksError);

        var (unknown, _, _) = RunCli("no-such-command");
        Assert.NotEqual(0, unknown);
    }

    private static (int Code, string Stdout, string Stderr) RunCli(params string[] args) => CliRunner.Run(args);
}
