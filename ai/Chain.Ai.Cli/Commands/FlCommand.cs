using System.CommandLine;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai fl ...</c>: federated learning across hospitals. Each subcommand lives in its own class and adds itself
/// here with one line.
/// </summary>
public static class FlCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var fl = new Command("fl", "Federated learning across hospital nodes: simulation, poisoning experiments, secure and Paillier "
                                   + "aggregation, split learning and rounds coordinated on the ledger.");
        // One line per subcommand:
        fl.Add(FlSimulateCommand.Simulate(stdout, stderr));
        fl.Add(FlSimulateCommand.Poison(stdout, stderr));
        fl.Add(FlSimulateCommand.Compress(stdout, stderr));
        fl.Add(FlSimulateCommand.Dp(stdout, stderr));
        fl.Add(FlTestnetCommand.Create(stdout, stderr));
        fl.Add(FlSplitCommand.Create(stdout, stderr));
        fl.Add(FlPaillierCommand.Create(stdout, stderr));
        fl.Add(FlSecAggCommand.Create(stdout, stderr));
        return fl;
    }
}
