using System.CommandLine;
using System.Diagnostics;
using Chain.Ai.Federated;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai fl paillier</c>: one in-process round of packed Paillier aggregation (<see cref="PaillierAggregation.Round"/>)
/// with per-ciphertext unit costs (<see cref="PaillierAggregation.MeasureUnitCosts"/>): per-value costs against
/// python-paillier's published 2048-bit figures, the round's phases in seconds, bytes per client, and a check of the
/// decrypted sum against the plain sum. Exit codes: 0 done, 1 the sum did not match, 2 bad arguments.
/// </summary>
public static class FlPaillierCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var clients = new Option<int>("--clients") { Description = "Clients (hospitals) in the round, 1 to 1024.", DefaultValueFactory = _ => 10 };
        var parameters = new Option<int>("--params") { Description = "Model parameters per update.", DefaultValueFactory = _ => 100_000 };
        var bits = new Option<int>("--bits") { Description = "Paillier modulus size: 2048 or 3072 (512/1024 for quick tries).", DefaultValueFactory = _ => 2048 };
        var threads = new Option<int>("--threads") { Description = "Threads per client encryption, aggregation and decryption (default: every core)." };
        var slotBits = new Option<int>("--slot-bits") { Description = "Bits per packed value (with headroom for the clients).", DefaultValueFactory = _ => 32 };
        var fractionalBits = new Option<int>("--fractional-bits") { Description = "Fixed-point fractional bits.", DefaultValueFactory = _ => 24 };
        var precompute = new Option<bool>("--precompute") { Description = "Compute each client's nonce powers ahead (offline) and report online and offline cost." };
        var repetitions = new Option<int>("--unit-reps") { Description = "Repetitions of the per-ciphertext unit measurement.", DefaultValueFactory = _ => 5 };
        var seed = new Option<int>("--seed") { Description = "Seed of the synthetic updates.", DefaultValueFactory = _ => 9 };
        var command = new Command("paillier", "One in-process round of packed Paillier secure aggregation: costs per value and per round, "
                                              + "checked against the plain sum.")
        {
            clients, parameters, bits, threads, slotBits, fractionalBits, precompute, repetitions, seed,
        };
        command.SetAction(parse => Run(stdout, stderr, new PaillierRoundOptions
        {
            Clients = parse.GetValue(clients),
            Parameters = parse.GetValue(parameters),
            Threads = parse.GetValue(threads) is var t && t != 0 ? t : Environment.ProcessorCount,
            SlotBits = parse.GetValue(slotBits),
            FractionalBits = parse.GetValue(fractionalBits),
            Precompute = parse.GetValue(precompute),
            Seed = parse.GetValue(seed),
        }, parse.GetValue(bits), parse.GetValue(repetitions)));
        return command;
    }

    private static int Run(TextWriter stdout, TextWriter stderr, PaillierRoundOptions options, int bits, int repetitions)
    {
        PaillierKeyPair keys;
        try
        {
            if (repetitions is < 1 or > 1000) throw new ArgumentOutOfRangeException(nameof(repetitions), repetitions, "--unit-reps must be 1 to 1000");
            if (options.Threads is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "--threads must be 1 to 1024");
            var keyClock = Stopwatch.StartNew();
            keys = PaillierKeyPair.Generate(bits);
            stdout.WriteLine(F($"key:                {bits}-bit n generated in {keyClock.Elapsed.TotalSeconds:0.0} s; g = n + 1, CRT decryption"));
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"error: {e.Message.Split(" (Parameter")[0]}");
            return Program.Error;
        }

        PaillierRoundReport report;
        PaillierUnitCosts unit;
        try
        {
            var packer = new PaillierPacker(keys.PublicKey, options.FractionalBits, options.SlotBits, options.Clients);
            stdout.WriteLine(F($"packing:            {packer.SlotsPerCiphertext} values per ciphertext ({options.SlotBits}-bit slots, "
                               + $"{packer.HeadroomBits} headroom bits for {options.Clients} clients, resolution 2^-{options.FractionalBits}, |v| <= {packer.MaxAbs:G4})"));
            stdout.WriteLine(F($"machine:            {Environment.ProcessorCount} cores, {options.Threads} thread(s) per phase; "
                               + "timings are wall-clock on a possibly shared machine"));
            unit = PaillierAggregation.MeasureUnitCosts(keys, repetitions);
            report = PaillierAggregation.Round(keys, options, line => stdout.WriteLine("  " + line));
            WriteUnitCosts(stdout, unit, packer.SlotsPerCiphertext);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"error: {e.Message.Split(" (Parameter")[0]}");
            return Program.Error;
        }
        WriteRound(stdout, report);
        if (!report.SumMatches)
        {
            stderr.WriteLine(F($"the decrypted sum is off by {report.MaxAbsError:G4} (bound {report.ErrorBound:G4})"));
            return Program.CheckFailed;
        }
        return Program.Ok;
    }

    private static void WriteUnitCosts(TextWriter stdout, PaillierUnitCosts u, int slots)
    {
        stdout.WriteLine(F($"per ciphertext, one thread, mean of {u.Repetitions}:"));
        stdout.WriteLine(F($"  encrypt:          {u.EncryptMontgomeryMs:0.00} ms (Montgomery); BigInteger.ModPow {u.EncryptBigIntegerMs:0.00} ms "
                           + $"({u.EncryptBigIntegerMs / u.EncryptMontgomeryMs:0.0}x slower); online part with a precomputed r^n {u.EncryptOnlineMs:0.000} ms"));
        stdout.WriteLine(F($"  decrypt (CRT):    {u.DecryptCrtMontgomeryMs:0.00} ms (Montgomery); BigInteger.ModPow {u.DecryptCrtBigIntegerMs:0.00} ms"));
        stdout.WriteLine(F($"  add:              {u.AddMs:0.0000} ms"));
        var enc = u.EncryptMontgomeryMs / slots;
        var online = u.EncryptOnlineMs / slots;
        var dec = u.DecryptCrtMontgomeryMs / slots;
        var add = u.AddMs / slots;
        stdout.WriteLine(F($"per value ({slots} packed), one thread, vs python-paillier 2048-bit "
                           + $"({PaillierAggregation.PythonPaillierEncryptMs}/{PaillierAggregation.PythonPaillierDecryptMs}/{PaillierAggregation.PythonPaillierAddMs} ms):"));
        stdout.WriteLine(F($"  encrypt:          {enc:0.0000} ms ({PaillierAggregation.PythonPaillierEncryptMs / enc:0.0}x cheaper); "
                           + $"online only {online:0.00000} ms ({PaillierAggregation.PythonPaillierEncryptMs / online:0}x)"));
        stdout.WriteLine(F($"  decrypt:          {dec:0.0000} ms ({PaillierAggregation.PythonPaillierDecryptMs / dec:0.0}x cheaper)"));
        stdout.WriteLine(F($"  add:              {add:0.000000} ms ({PaillierAggregation.PythonPaillierAddMs / add:0}x cheaper)"));
    }

    private static void WriteRound(TextWriter stdout, PaillierRoundReport r)
    {
        var values = (double)r.Parameters;
        var perClient = r.ClientEncrypt.Select(t => t.TotalSeconds).ToList();
        stdout.WriteLine(F($"round: {r.Clients} clients x {r.Parameters:N0} parameters, {r.Bits}-bit key, {r.CiphertextsPerClient:N0} ciphertexts per client, {r.Threads} thread(s):"));
        if (r.ClientOffline.Any(t => t > TimeSpan.Zero))
            stdout.WriteLine(F($"  client offline:   {r.ClientOffline.Average(t => t.TotalSeconds):0.00} s per client (mean; nonce powers r^n), "
                               + $"{r.ClientOfflineTotal.TotalSeconds:0.0} s for all"));
        stdout.WriteLine(F($"  client encrypt:   {perClient.Average():0.00} s per client (mean; min {perClient.Min():0.00}, max {perClient.Max():0.00}), "
                           + $"{r.ClientEncryptTotal.TotalSeconds:0.0} s for all one after the other; "
                           + $"{r.ClientEncryptWall.TotalSeconds:0.00} s wall if each client encrypts on its own machine at once"));
        stdout.WriteLine(F($"  server aggregate: {r.ServerAggregate.TotalSeconds:0.000} s (decode {r.Clients} updates and multiply)"));
        stdout.WriteLine(F($"  decrypt:          {r.Decrypt.TotalSeconds:0.00} s (CRT, unpack)"));
        var total = r.ClientEncryptWall + r.ServerAggregate + r.Decrypt;
        stdout.WriteLine(F($"  round total:      {total.TotalSeconds:0.00} s with clients in parallel; "
                           + $"{(r.ClientEncryptTotal + r.ServerAggregate + r.Decrypt).TotalSeconds:0.0} s with clients one after the other"));
        stdout.WriteLine(F($"  per value (wall, {r.Threads} thread(s)): encrypt {perClient.Average() * 1000 / values:0.0000} ms, "
                           + $"aggregate {r.ServerAggregate.TotalMilliseconds / values / r.Clients:0.000000} ms per value per client, "
                           + $"decrypt {r.Decrypt.TotalMilliseconds / values:0.0000} ms"));
        stdout.WriteLine(F($"  bytes per client: {r.BytesPerClient:N0} ({r.BytesPerClient / values:0.00} per parameter; float32 would be 4)"));
        stdout.WriteLine(F($"  check:            max |decrypted - plain sum| = {r.MaxAbsError:G4} (bound {r.ErrorBound:G4}): "
                           + (r.SumMatches ? "OK" : "MISMATCH")));
    }

    /// <summary>Output text (the build sets InvariantGlobalization: numbers format the same everywhere).</summary>
    private static string F(string text) => text;
}
