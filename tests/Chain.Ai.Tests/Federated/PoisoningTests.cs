using Chain.Ai.Federated;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>The attacks, and the robustness property: robust rules hold where FedAvg breaks.</summary>
public sealed class PoisoningTests(ITestOutputHelper output)
{
    private const int Seed = 3;

    private static FederatedOptions Options(AggregationKind rule, Poisoning attack) => new()
    {
        Rounds = 6,
        Hidden = [16, 8],
        Seed = Seed,
        Rule = rule,
        Attack = attack,
        AssumedMalicious = 3,
        Local = new LocalTrainingOptions(Epochs: 1, BatchSize: 32, LearningRate: 0.5),
    };

    [Fact]
    public void Attacks_change_data_and_deltas_as_documented()
    {
        var client = new ClientData("h", [[0f, 1f, 2f, 3f], [4f, 5f, 6f, 7f]], [0, 1]);
        Assert.Equal([1, 0], new Poisoning(PoisoningKind.LabelFlip, 0.1).PoisonData(client).Labels);
        Assert.Equal([1, 0], new Poisoning(PoisoningKind.ScaledUpdate, 0.1).PoisonData(client).Labels);
        Assert.Same(client, new Poisoning(PoisoningKind.SignFlip, 0.1).PoisonData(client));
        var backdoor = new Poisoning(PoisoningKind.Backdoor, 0.1).PoisonData(client);
        Assert.Equal(4, backdoor.Count);
        Assert.Equal([0, 1, 0, 0], backdoor.Labels);
        Assert.Equal([0f, 6f, 6f, 6f], backdoor.Features[2]); // the last three features set to +6
        Assert.Equal([4f, 6f, 6f, 6f], backdoor.Features[3]);

        float[] delta = [1f, -2f];
        Assert.Equal([-4f, 8f], new Poisoning(PoisoningKind.SignFlip, 0.3).PoisonDelta(delta, 10, 3));
        Assert.Equal([10f, -20f], new Poisoning(PoisoningKind.ScaledUpdate, 0.3).PoisonDelta(delta, 10, 3));
        Assert.Equal([5f, -10f], new Poisoning(PoisoningKind.Backdoor, 0.3).PoisonDelta(delta, 10, 2)); // 10 / 2
        Assert.Equal([-2f, 4f], new Poisoning(PoisoningKind.SignFlip, 0.3, Factor: 2).PoisonDelta(delta, 10, 3));

        var clients = Enumerable.Range(0, 10).Select(k => new ClientData(Partitioner.ClientName(k), [], [])).ToArray();
        foreach (var (fraction, count) in new[] { (0.1, 1), (0.2, 2), (0.3, 3) })
        {
            var chosen = new Poisoning(PoisoningKind.LabelFlip, fraction).ChooseMalicious(clients, Seed);
            Assert.Equal(count, chosen.Count);
            Assert.Equal(chosen, new Poisoning(PoisoningKind.LabelFlip, fraction).ChooseMalicious(clients, Seed));
        }
        Assert.Empty(Poisoning.None.ChooseMalicious(clients, Seed));
    }

    [Theory]
    [InlineData(PoisoningKind.SignFlip)]
    [InlineData(PoisoningKind.ScaledUpdate)]
    public void With_30_percent_malicious_clients_FedAvg_degrades_and_robust_rules_stay_near_clean(PoisoningKind kind)
    {
        output.WriteLine($"seed {Seed}");
        var data = FederatedTestData.Data(10, Seed, rowsPerClient: 120);
        var clean = new FederatedSimulation(Options(AggregationKind.FedAvg, Poisoning.None)).Run(data).Final.Test.Accuracy;
        var attack = new Poisoning(kind, 0.3);
        var fedavg = new FederatedSimulation(Options(AggregationKind.FedAvg, attack)).Run(data).Final.Test.Accuracy;
        output.WriteLine($"clean fedavg {clean:F4}; {kind} 30%: fedavg {fedavg:F4}");
        Assert.True(clean > 0.95, $"clean {clean}");
        Assert.True(fedavg < clean - 0.15, $"FedAvg under {kind}: {fedavg} vs clean {clean}");
        foreach (var rule in new[] { AggregationKind.Median, AggregationKind.TrimmedMean, AggregationKind.Krum, AggregationKind.MultiKrum })
        {
            var run = new FederatedSimulation(Options(rule, attack)).Run(data);
            output.WriteLine($"{run.RuleLabel}: {run.Final.Test.Accuracy:F4}");
            Assert.True(run.Final.Test.Accuracy > clean - 0.05, $"{rule} under {kind}: {run.Final.Test.Accuracy} vs clean {clean}");
            Assert.Equal(3, run.Malicious.Count);
        }
    }

    [Fact]
    public void A_boosted_backdoor_implants_the_trigger_under_FedAvg_and_clean_accuracy_survives()
    {
        var data = FederatedTestData.Data(10, Seed, rowsPerClient: 120);
        var clean = new FederatedSimulation(Options(AggregationKind.FedAvg, Poisoning.None)).Run(data).Final;
        var attacked = new FederatedSimulation(Options(AggregationKind.FedAvg, new Poisoning(PoisoningKind.Backdoor, 0.3))).Run(data).Final;
        output.WriteLine($"backdoor success: clean model {clean.BackdoorSuccess:F4}, backdoored {attacked.BackdoorSuccess:F4}; " +
                         $"accuracy {clean.Test.Accuracy:F4} -> {attacked.Test.Accuracy:F4}");
        // The trigger alone does something (a clean model extrapolates arbitrarily out of range); the backdoor does far more.
        Assert.True(attacked.BackdoorSuccess > 0.9, $"backdoor success {attacked.BackdoorSuccess}");
        Assert.True(attacked.BackdoorSuccess > clean.BackdoorSuccess + 0.3, $"backdoor {attacked.BackdoorSuccess} vs trigger alone {clean.BackdoorSuccess}");
        Assert.True(attacked.Test.Accuracy > 0.85, $"clean accuracy under the backdoor {attacked.Test.Accuracy}");
    }
}
