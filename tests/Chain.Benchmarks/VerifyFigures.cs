using System.Diagnostics;
using System.Globalization;
using Chain.Chaincode;
using Chain.Client.Audit;
using Chain.Client.Sources;
using Chain.Testing;

namespace Chain.Benchmarks;

/// <summary>
/// The auditor's full-ledger verification speed: builds a RocksDB ledger of <c>transactions</c> (blocks of 1,000, the
/// default contract mix) in a temporary directory once, then verifies it with <see cref="LedgerVerifier"/> three times
/// (read-only open each time, as the CLI does) and prints transactions per second for each run and the median.
/// </summary>
public static class VerifyFigures
{
    public static void Run(TextWriter output, int transactions)
    {
        const int perBlock = 1_000;
        var blocks = Math.Max(1, transactions / perBlock);
        var root = Path.Combine(Path.GetTempPath(), "chain-verify-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            var build = Stopwatch.StartNew();
            var (path, built) = TestLedger.Default.CreateLedgerDirectory(root, blocks, perBlock);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"built {built.Tip} blocks, {built.Transactions} transactions ({built.ContractCalls} contract calls, {built.Refused} refused) in {build.Elapsed.TotalSeconds:F1} s"));
            output.WriteLine($"verifying with {Environment.ProcessorCount} processors");
            var rates = new List<double>();
            for (var run = 1; run <= 3; run++)
            {
                using var source = StoreLedgerSource.OpenDataDirectory(path, TestLedger.Default.Genesis);
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var report = new LedgerVerifier(TestLedger.Default.Genesis, SystemContracts.Registry()).VerifyAsync(source).GetAwaiter().GetResult();
                if (!report.Ok) throw new InvalidOperationException($"the benchmark ledger failed verification: {report.Failure}");
                rates.Add(report.TransactionsPerSecond);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run {run}: {report.Transactions} tx in {report.Elapsed.TotalSeconds:F2} s = {report.TransactionsPerSecond:F0} tx/s " +
                    $"(process CPU {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:F1} s)"));
            }
            rates.Sort();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median: {rates[1]:F0} tx/s"));
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
