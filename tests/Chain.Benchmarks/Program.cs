using BenchmarkDotNet.Running;
using Chain.Benchmarks;

// Micro-benchmarks (BenchmarkDotNet) and, with "consensus", the simulator's protocol figures.
// Examples: dotnet run -c Release --project tests/Chain.Benchmarks -- --filter '*Merkle*'
//           dotnet run -c Release --project tests/Chain.Benchmarks -- consensus
//           dotnet run -c Release --project tests/Chain.Benchmarks -- verify-ledger [transactions, default 100000]
if (args.Length > 0 && args[0] == "consensus")
{
    ConsensusFigures.Run(Console.Out, blocks: args.Length > 1 ? int.Parse(args[1]) : 200);
    return;
}
if (args.Length > 0 && args[0] == "verify-ledger")
{
    VerifyFigures.Run(Console.Out, transactions: args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100_000);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(ConsensusFigures).Assembly).Run(args);
