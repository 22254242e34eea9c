using BenchmarkDotNet.Running;

// Runs Chain's micro-benchmarks; results go to BENCHMARKS.md by hand with date, commit and machine.
// Example: dotnet run -c Release --project tests/Chain.Benchmarks -- --filter '*Merkle*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
