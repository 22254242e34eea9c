using System.CommandLine;
using System.Globalization;
using Chain.Chaincode.Contracts;
using Chain.Client.Queries;

namespace Chain.Cli.Commands;

/// <summary>The system contracts' records: models, custody, the defense log, federated rounds.</summary>
internal static class ContractCommands
{
    public static void AddTo(RootCommand root, CliEnvironment env)
    {
        root.Add(Models(env));
        root.Add(Custody(env));
        root.Add(DefenseLog(env));
        root.Add(new Command("fl", "Federated learning.") { Rounds(env) });
    }

    private static string Name(string? value, string what)
    {
        if (value is null || !ContractNames.IsName(value))
            throw new CliException($"{what} '{Args.Show(value ?? "")}' is not a valid name: names are {ContractNames.Rule}");
        return value;
    }

    private static Command Models(CliEnvironment env)
    {
        var list = new Command("list", "Every registered model: owner, endorsement policy, versions.");
        Cli.SetAction(list, env, async context =>
        {
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var models = await new ModelQueries(c.Source.State).ListAsync(context.Cancellation).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(new { models });
                return Cli.Ok;
            }
            var table = Output.Table("model", "owner", "policy", "versions", "latest", "statuses");
            foreach (var m in models)
                Output.Row(table, m.Model, m.Owner, m.Policy, m.Versions, m.Latest, string.Join(", ", m.StatusCounts.Select(s => $"{s.Key} {s.Value}")));
            context.Output.Write(table);
            if (models.Count == 0) context.Output.Line("no models registered");
            return Cli.Ok;
        });

        var id = new Argument<string>("model") { Description = "The model's name." };
        var show = new Command("show", "A model's versions: status, endorsements, weights hash, parent, trainer, epsilon.") { id };
        Cli.SetAction(show, env, async context =>
        {
            var model = Name(context.Value(id), "model");
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var info = await new ModelQueries(c.Source.State).GetModelAsync(model, context.Cancellation).ConfigureAwait(false)
                ?? throw new CliException($"model {model} is not registered");
            if (context.Output.Json)
            {
                context.Output.WriteJson(info);
                return Cli.Ok;
            }
            context.Output.Fields(("model", info.Model), ("owner", info.Owner), ("policy", $"{info.Policy} endorsements"));
            var table = Output.Table("version", "status", "endorsements", "weights sha256", "parent", "trainer", "epsilon", "height", "registered (UTC)");
            foreach (var v in info.Versions)
            {
                Output.Row(table, v.Version, v.RevokedReason is null ? v.Status : $"{v.Status}: {v.RevokedReason}", string.Join(", ", v.Endorsements),
                    v.WeightsSha256, v.Parent ?? "-", v.Organisation, v.Metadata.Epsilon, v.Height, Output.Time(v.Timestamp));
            }
            context.Output.Write(table);
            return Cli.Ok;
        });

        var verifyModel = new Argument<string>("model") { Description = "The model's name." };
        var file = new Argument<string>("file") { Description = "The weights file to check." };
        var version = new Option<string>("--version") { Description = "Check against this version only (default: any version of the model)." };
        var verify = new Command("verify", "Checks a weights file against the ledger: exit 0 only if it is an approved version, 1 otherwise.")
        {
            verifyModel, file, version,
        };
        Cli.SetAction(verify, env, async context =>
        {
            var model = Name(context.Value(verifyModel), "model");
            var v = context.Value(version) is { } vv ? Name(vv, "version") : null;
            var path = context.Value(file) ?? "";
            if (!File.Exists(path)) throw new CliException($"weights file {Args.Show(path)} does not exist");
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var result = await new ModelQueries(c.Source.State).VerifyWeightsAsync(model, v, path, context.Cancellation).ConfigureAwait(false);
            var approved = result.Verdict == WeightsVerdict.Approved;
            if (context.Output.Json)
            {
                context.Output.WriteJson(new
                {
                    model,
                    version = v,
                    file = path,
                    verdict = result.Verdict.ToString(),
                    sha256 = result.Sha256,
                    match = result.Match,
                    message = result.Message,
                });
            }
            else
            {
                context.Output.Line($"{(approved ? "APPROVED" : result.Verdict.ToString().ToUpperInvariant())}: {Cli.OneLine(result.Message)}");
            }
            return approved ? Cli.Ok : Cli.CheckFailed;
        });
        return new Command("models", "AI model attestations.") { list, show, verify };
    }

    private static Command Custody(CliEnvironment env)
    {
        var list = new Command("list", "Every protected secret: dealer, threshold, custodians, epoch, status.");
        Cli.SetAction(list, env, async context =>
        {
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var all = await new CustodyQueries(c.Source.State).ListAsync(context.Cancellation).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(new { secrets = all });
                return Cli.Ok;
            }
            var table = Output.Table("secret", "dealer", "threshold", "custodians", "epoch", "acks", "complaints", "releases", "status");
            foreach (var s in all)
            {
                Output.Row(table, s.Id, s.Dealer, $"{s.Threshold} of {s.Custodians.Count}", string.Join(", ", s.Custodians), s.Epoch, s.Acks.Count,
                    s.Complaints.Count, s.Releases.Count, s.Status);
            }
            context.Output.Write(table);
            if (all.Count == 0) context.Output.Line("no protected secrets");
            return Cli.Ok;
        });

        var secret = new Argument<string>("secret") { Description = "The secret's id." };
        var show = new Command("show", "One protected secret: commitments, custodians, epoch, acknowledgements, complaints, releases with approvers (never ciphertexts).")
        {
            secret,
        };
        Cli.SetAction(show, env, async context =>
        {
            var id = Name(context.Value(secret), "secret");
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var view = await new CustodyQueries(c.Source.State).ShowAsync(id, context.Cancellation).ConfigureAwait(false)
                ?? throw new CliException($"secret {id} is not in custody");
            if (context.Output.Json)
            {
                context.Output.WriteJson(view);
                return Cli.Ok;
            }
            context.Output.Fields(("secret", view.Id), ("dealer", view.Dealer), ("threshold", $"{view.Threshold} of {view.Custodians.Count}"),
                ("custodians", string.Join(", ", view.Custodians)), ("epoch", view.Epoch), ("status", view.Status),
                ("acknowledged by", string.Join(", ", view.Acks)));
            context.Output.Line();
            var commitments = Output.Table("#", "commitment");
            for (var i = 0; i < view.Commitments.Count; i++) Output.Row(commitments, i, view.Commitments[i]);
            context.Output.Write(commitments);
            if (view.Complaints.Count > 0)
            {
                var complaints = Output.Table("complainant", "complaint");
                foreach (var (who, what) in view.Complaints) Output.Row(complaints, who, what);
                context.Output.Write(complaints);
            }
            var releases = Output.Table("release", "requester", "status", "approvers");
            foreach (var r in view.Releases) Output.Row(releases, r.RequestId, r.Requester, r.Status, string.Join(", ", r.Approvers));
            if (view.Releases.Count > 0) context.Output.Write(releases);
            else context.Output.Line("no release requests");
            return Cli.Ok;
        });
        return new Command("custody", "Key custody (threshold-shared secrets).") { list, show };
    }

    private static Command DefenseLog(CliEnvironment env)
    {
        var since = new Option<string>("--since") { Description = "From this block time on (ISO 8601, UTC if no offset; or Unix ms)." };
        var until = new Option<string>("--until") { Description = "Before this block time (ISO 8601 or Unix ms)." };
        var device = new Option<string>("--device") { Description = "Only actions on this device." };
        var severity = new Option<string>("--severity") { Description = "Only this severity: info, low, medium, high, critical." };
        var limit = new Option<string>("--limit") { Description = "At most this many actions, oldest first (1-10,000; default 100)." };
        var command = new Command("defense-log", "The defense agents' logged detections and responses, by block time.") { since, until, device, severity, limit };
        Cli.SetAction(command, env, async context =>
        {
            var s = Args.Time(context.Value(since), "--since");
            var u = Args.Time(context.Value(until), "--until");
            if (s is { } a && u is { } b && b < a) throw new CliException("--until is before --since");
            var d = context.Value(device) is { } dv ? Name(dv, "device") : null;
            var sev = context.Value(severity);
            if (sev is not null && !Chain.Chaincode.Contracts.DefenseLogContract.Severities.Contains(sev))
                throw new CliException($"--severity '{Args.Show(sev)}' is not one of info, low, medium, high, critical");
            var n = 100;
            if (context.Value(limit) is { } l && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out n) || n is < 1 or > DefenseQueries.MaxLimit))
                throw new CliException($"--limit '{Args.Show(l)}' is not a whole number from 1 to {DefenseQueries.MaxLimit}");
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var actions = await new DefenseQueries(c.Source.State).QueryAsync(new DefenseQuery(s, u, d, sev, n), context.Cancellation).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(new { count = actions.Count, actions });
                return Cli.Ok;
            }
            var table = Output.Table("time (UTC)", "height", "organisation", "agent", "model", "device", "severity", "action", "evidence sha256", "tx");
            foreach (var x in actions)
            {
                Output.Row(table, Output.Time(x.Timestamp), x.Height, x.Organisation, x.Entry.Agent, x.Entry.ModelVersion, x.Entry.Device, x.Entry.Severity,
                    x.Entry.Action, x.Entry.EvidenceSha256, x.Tx.Length > 16 ? x.Tx[..16] : x.Tx);
            }
            context.Output.Write(table);
            context.Output.Line($"{actions.Count} action(s){(actions.Count == n ? $" (the limit, {n}: there may be more)" : "")}");
            return Cli.Ok;
        });
        return command;
    }

    private static Command Rounds(CliEnvironment env)
    {
        var command = new Command("rounds", "Federated-learning rounds and the datasets' privacy budgets (budget, spent, remaining).");
        Cli.SetAction(command, env, async context =>
        {
            var c = await context.ConnectAsync().ConfigureAwait(false);
            context.KeepAlive();
            var q = new RoundQueries(c.Source.State);
            var rounds = await q.ListRoundsAsync(context.Cancellation).ConfigureAwait(false);
            var budgets = await q.ListBudgetsAsync(context.Cancellation).ConfigureAwait(false);
            if (context.Output.Json)
            {
                context.Output.WriteJson(new
                {
                    rounds,
                    budgets = budgets.Select(b => new { dataset = b.Dataset, budget = b.Budget, spent = b.Spent, remaining = b.Remaining }),
                });
                return Cli.Ok;
            }
            var table = Output.Table("round", "dataset", "rule", "coordinator", "participants", "updates", "epsilon spent", "aggregate sha256", "status");
            foreach (var r in rounds)
            {
                Output.Row(table, r.Round, r.Dataset, r.Rule, r.Coordinator, string.Join(", ", r.Participants), $"{r.Updates.Count} of {r.Participants.Count}",
                    r.Epsilon.Values.Sum(), r.AggregateSha256 ?? "-", r.Status);
            }
            context.Output.Write(table);
            var budgetTable = Output.Table("dataset", "budget", "spent", "remaining");
            foreach (var b in budgets) Output.Row(budgetTable, b.Dataset, b.Budget, b.Spent, b.Remaining);
            context.Output.Write(budgetTable);
            return Cli.Ok;
        });
        return command;
    }
}
