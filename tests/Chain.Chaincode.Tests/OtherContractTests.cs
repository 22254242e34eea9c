using System.Text;
using System.Text.Json;
using Chain.Chaincode.Contracts;

namespace Chain.Chaincode.Tests;

public sealed class DefenseLogTests : ContractHarness
{
    protected override string Contract => "defense";

    private static string Action(string device = "pump-7", string severity = "high", string evidence = Weights) =>
        $$"""{"agent":"ids-1","modelVersion":"iomt-detector:1.0","severity":"{{severity}}","device":"{{device}}","action":"isolate","evidenceSha256":"{{evidence}}"}""";

    [Fact]
    public void A_batch_is_logged_with_time_device_and_severity_indexes()
    {
        Ok(Tx(A, "record", $"[{Action()},{Action("monitor-2", "low")}]"));
        var keys = _store.ScanState("defense/"u8).Select(kv => Encoding.UTF8.GetString(kv.Key)).ToList();
        Assert.Equal(2, keys.Count(k => k.StartsWith("defense/t/", StringComparison.Ordinal)));
        Assert.Single(keys, k => k.StartsWith("defense/d/pump-7/", StringComparison.Ordinal));
        Assert.Single(keys, k => k.StartsWith("defense/s/low/", StringComparison.Ordinal));
        var logged = JsonSerializer.Deserialize<LoggedAction>(_store.ScanState("defense/t/"u8).First().Value.Value, ContractArgs.Json)!;
        Assert.Equal("hospital-a", logged.Organisation);
        Assert.Equal("isolate", logged.Entry.Action);
    }

    [Theory]
    [InlineData("[]", "1 to 1000")]
    [InlineData("{}", "not a valid JSON array")]
    [InlineData("[null]", "action 0 is null")]
    public void Malformed_batches_are_refused(string batch, string message) => Refused(Tx(A, "record", batch), message);

    [Fact]
    public void Bad_fields_roles_and_functions_are_refused()
    {
        Refused(Tx(A, "record", $"[{Action(severity: "apocalyptic")}]"), "severity must be");
        Refused(Tx(A, "record", $"[{Action(evidence: "abc")}]"), "evidenceSha256");
        Refused(Tx(A, "record", $"[{Action(device: "pump 7")}]"), "device must be");
        Refused(Tx(A, "record", $"[{Action().Replace("}", ",\"patientName\":\"x\"}", StringComparison.Ordinal)}]"), "not a valid JSON array");
        Refused(Tx(Auditor, "record", $"[{Action()}]"), "read-only");
        Refused(Tx(Regulator, "record", $"[{Action()}]"), "only hospitals");
        Refused(Tx(A, "erase", "x"), "no function 'erase'");
        var tooMany = "[" + string.Join(",", Enumerable.Repeat(Action(), 1001)) + "]";
        Refused(Tx(A, "record", tooMany), "1 to 1000");
    }
}

public sealed class FederatedRoundTests : ContractHarness
{
    protected override string Contract => "fl";

    private static readonly string Update = new('a', 64), Aggregate = new('b', 64);

    [Fact]
    public void A_round_runs_within_the_privacy_budget_and_closes()
    {
        Refused(Tx(A, "open", "r1", "wustl", "fedavg", "hospital-a,hospital-b"), "no privacy budget");
        Refused(Tx(A, "budget", "wustl", "3"), "only the regulator");
        Ok(Tx(Regulator, "budget", "wustl", "3"));
        Ok(Tx(A, "open", "r1", "wustl", "fedavg", "hospital-a,hospital-b,hospital-b"));
        Refused(Tx(A, "open", "r1", "wustl", "fedavg", "hospital-a,hospital-b"), "exists");
        Ok(Tx(A, "submit", "r1", Update, "1.25"));
        Refused(Tx(A, "submit", "r1", Update, "0.5"), "already submitted");
        Refused(Tx(C, "submit", "r1", Update, "0.5"), "not a participant");
        Refused(Tx(B, "submit", "r1", Update, "1.76"), "would exceed its budget 3");
        Refused(Tx(A, "close", "r1", Aggregate), "at least 2 updates");
        Ok(Tx(B, "submit", "r1", Update, "1.75"));
        Refused(Tx(B, "close", "r1", Aggregate), "coordinator");
        Ok(Tx(A, "close", "r1", Aggregate));
        Assert.Equal("3.00", Encoding.UTF8.GetString(State("spent/wustl")!));
        var round = JsonSerializer.Deserialize<FederatedRound>(State("round/r1")!, ContractArgs.Json)!;
        Assert.Equal("closed", round.Status);
        Assert.Equal(["hospital-a", "hospital-b"], round.Participants);
        Refused(Tx(Regulator, "budget", "wustl", "2"), "below what is already spent");
        Assert.Null(round.BaseSha256);
        Assert.DoesNotContain("\"base\"", Encoding.UTF8.GetString(State("round/r1")!)); // records without a base keep their old bytes
    }

    [Fact]
    public void A_round_can_name_the_global_model_it_starts_from_and_every_robust_rule()
    {
        Ok(Tx(Regulator, "budget", "wustl", "3"));
        var base1 = new string('c', 64);
        Ok(Tx(A, "open", "r2", "wustl", "multi-krum", "hospital-a,hospital-b", base1));
        Assert.Equal(base1, JsonSerializer.Deserialize<FederatedRound>(State("round/r2")!, ContractArgs.Json)!.BaseSha256);
        Ok(Tx(A, "open", "r3", "wustl", "fedprox", "hospital-a,hospital-b"));
        Refused(Tx(A, "open", "r4", "wustl", "fedavg", "hospital-a,hospital-b", "C0FFEE"), "baseSha256 must be");
        Refused(Tx(A, "open", "r5", "wustl", "fedavg", "hospital-a,hospital-b", base1, "extra"), "usage: open");
    }

    [Theory]
    [InlineData("open", new[] { "r", "d", "mystery", "hospital-a,hospital-b" }, "rule must be")]
    [InlineData("submit", new[] { "nope", "x", "1" }, "does not exist")]
    [InlineData("budget", new[] { "d" }, "usage: budget")]
    [InlineData("launch", new string[0], "no function 'launch'")]
    public void Malformed_calls_are_refused(string function, string[] args, string message) => Refused(Tx(A, function, args), message);
}
