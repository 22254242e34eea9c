namespace Chain.Simulation;

/// <summary>
/// A broken invariant (or a replica that threw), with everything needed to replay it: the message starts
/// "seed S, step K (t=T): ..." and ends with the replay hint and the scenario.
/// </summary>
public sealed class SimulationViolation : Exception
{
    public SimulationViolation(Scenario scenario, long step, long time, string problem, Exception? inner = null)
        : base($"seed {scenario.Seed}, step {step} (t={time}): {problem}\n" +
               $"  replay: {scenario.Replay}\n  scenario: {scenario}", inner)
    {
        Scenario = scenario;
        Step = step;
        Time = time;
        Problem = problem;
    }

    public Scenario Scenario { get; }
    public long Step { get; }
    public long Time { get; }
    public string Problem { get; }

    public int Seed => Scenario.Seed;
}
