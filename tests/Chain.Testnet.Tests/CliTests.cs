using Chain.Testnet.Cluster;

namespace Chain.Testnet.Tests;

/// <summary>The cluster commands' argument errors: one clear line on stderr and a non-zero exit, and no node started.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "chain-cli-" + Guid.NewGuid().ToString("N"));

    public CliTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static string OneErrorLine(int code, string stderr)
    {
        Assert.NotEqual(0, code);
        var line = Assert.Single(CliRunner.Lines(stderr));
        Assert.StartsWith("error: ", line);
        return line;
    }

    [Theory]
    [InlineData("0", "--nodes must be between 1 and 16")]
    [InlineData("17", "--nodes must be between 1 and 16")]
    [InlineData("abc", "'abc'")]
    public void Bad_node_counts_fail_with_one_line(string nodes, string message)
    {
        var dir = Path.Combine(_root, "net");
        var (code, _, stderr) = CliRunner.Run("init", "--nodes", nodes, "--dir", dir);
        Assert.Contains(message, OneErrorLine(code, stderr));
        Assert.False(Directory.Exists(dir));
    }

    [Theory]
    [InlineData("status")]
    [InlineData("down")]
    [InlineData("kill", "1")]
    [InlineData("restart", "1")]
    [InlineData("partition", "1")]
    [InlineData("heal")]
    [InlineData("load", "--duration", "1")]
    [InlineData("bench")]
    public void Commands_on_a_missing_folder_fail_with_one_line(params string[] command)
    {
        var dir = Path.Combine(_root, "missing");
        var (code, _, stderr) = CliRunner.Run([.. command, "--dir", dir]);
        Assert.Equal(2, code);
        Assert.Contains($"no testnet in {dir}", OneErrorLine(code, stderr));
    }

    [Fact]
    public void Init_twice_partition_heal_and_bad_node_ids()
    {
        var dir = Path.Combine(_root, "net");
        var (created, stdout, _) = CliRunner.Run("init", "--nodes", "4", "--dir", dir, "--base-port", "17400");
        Assert.Equal(0, created);
        Assert.Contains("4 validator node(s)", stdout);

        var (again, _, againError) = CliRunner.Run("init", "--dir", dir);
        Assert.Contains("already exists; use --force", OneErrorLine(again, againError));

        var (partitioned, _, _) = CliRunner.Run("partition", "2", "3", "--dir", dir);
        Assert.Equal(0, partitioned);
        Assert.Equal([2, 3], FaultState.TryRead(Path.Combine(dir, "run", "faults.json"))!.Isolated);
        var (healed, _, _) = CliRunner.Run("heal", "--dir", dir);
        Assert.Equal(0, healed);
        Assert.Empty(FaultState.TryRead(Path.Combine(dir, "run", "faults.json"))!.Isolated);

        var (badNode, _, badNodeError) = CliRunner.Run("kill", "7", "--dir", dir);
        Assert.Contains("there is no node 7", OneErrorLine(badNode, badNodeError));
        var (badPartition, _, badPartitionError) = CliRunner.Run("partition", "1", "9", "--dir", dir);
        Assert.Contains("there is no node 9", OneErrorLine(badPartition, badPartitionError));
        var (noNodes, _, noNodesError) = CliRunner.Run("partition", "--dir", dir);
        OneErrorLine(noNodes, noNodesError);
        var (mismatch, _, mismatchError) = CliRunner.Run("up", "--nodes", "7", "--dir", dir);
        Assert.Contains("has 4 nodes, not 7", OneErrorLine(mismatch, mismatchError));
        var (badRate, _, badRateError) = CliRunner.Run("load", "--rate", "0", "--dir", dir);
        Assert.Contains("--rate must be between", OneErrorLine(badRate, badRateError));

        // status with nothing running: every node down and unreachable, exit 0.
        var (status, statusOut, _) = CliRunner.Run("status", "--dir", dir);
        Assert.Equal(0, status);
        Assert.Equal(4, CliRunner.Lines(statusOut).Count(l => l.Contains("unreachable", StringComparison.Ordinal)));
    }
}
