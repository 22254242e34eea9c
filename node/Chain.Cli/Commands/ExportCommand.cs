using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Chain.Cli.Commands;

/// <summary>
/// <c>export</c>: one row per transaction (height, block hash, timestamp, index, id, contract, function, sender, outcome),
/// as CSV (RFC 4180 quoting) or a JSON array, streamed block by block so memory stays bounded whatever the range.
/// </summary>
internal static class ExportCommand
{
    private static readonly string[] Columns =
        ["height", "block_hash", "timestamp", "index", "tx_id", "contract", "function", "sender_organisation", "sender_name", "succeeded", "error"];

    public static void AddTo(RootCommand root, CliEnvironment env)
    {
        var format = new Option<string>("--format") { Description = "csv or json.", DefaultValueFactory = _ => "csv" };
        format.AcceptOnlyFromAmong("csv", "json");
        var from = new Option<string>("--from") { Description = "First height (default 1)." };
        var to = new Option<string>("--to") { Description = "Last height (default: the tip)." };
        var output = new Option<string>("--out") { Description = "Write to this file (replaced if it exists) instead of stdout." };
        var command = new Command("export", "Every transaction in a range of blocks, one row each, as CSV or JSON.") { format, from, to, output };
        Cli.SetAction(command, env, async context =>
        {
            var f = Args.OptionalHeight(context.Value(from), "--from");
            var t = Args.OptionalHeight(context.Value(to), "--to");
            var json = context.Value(format) == "json";
            var path = context.Value(output);
            if (path is not null && (path.Length == 0 || Directory.Exists(path))) throw new CliException($"--out '{Args.Show(path)}' is not a file path");
            var c = await context.ConnectAsync().ConfigureAwait(false);
            var (begin, end) = Args.Range(f, t, await LedgerReader.TipAsync(context, c).ConfigureAwait(false), 0, 0);

            long rows;
            if (path is null)
            {
                rows = await WriteAsync(context, c, begin, end, json, context.Env.Stdout).ConfigureAwait(false);
                return Cli.Ok;
            }
            var temp = path + ".partial";
            try
            {
                var writer = new StreamWriter(temp, false, new UTF8Encoding(false), 1 << 16);
                await using (writer.ConfigureAwait(false))
                {
                    rows = await WriteAsync(context, c, begin, end, json, writer).ConfigureAwait(false);
                }
                File.Move(temp, path, overwrite: true);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            if (context.Output.Json) context.Output.WriteJson(new { file = path, format = json ? "json" : "csv", from = begin, to = end, rows });
            else context.Output.Line($"wrote {rows} transaction(s) of blocks {begin}-{end} to {path}");
            return Cli.Ok;
        });
        root.Add(command);
    }

    private static async Task<long> WriteAsync(CommandContext context, Connection c, ulong begin, ulong end, bool json, TextWriter writer)
    {
        long rows = 0;
        if (json) await writer.WriteLineAsync("[").ConfigureAwait(false);
        else await writer.WriteLineAsync(string.Join(",", Columns)).ConfigureAwait(false);
        for (var h = begin; h <= end; h++)
        {
            var b = await LedgerReader.BlockAsync(context, c, h).ConfigureAwait(false);
            var outcomes = await LedgerReader.OutcomesAsync(context, c, h).ConfigureAwait(false);
            var hash = b.Block.Hash.ToString();
            var time = Output.Time(b.Block.Header.Timestamp);
            for (var i = 0; i < b.Block.Transactions.Count; i++)
            {
                var tx = b.Block.Transactions[i];
                var (org, name) = Output.Member(c.Genesis, tx.Sender);
                var o = LedgerReader.OutcomeAt(outcomes, i, tx.Id);
                if (json)
                {
                    var row = JsonSerializer.Serialize(new Row(h, hash, time, i, tx.Id.ToString(), tx.Contract, tx.Function, org, name, o?.Success, o?.Error),
                        RowJson.Options);
                    await writer.WriteAsync(rows == 0 ? "  " : ",\n  ").ConfigureAwait(false);
                    await writer.WriteAsync(row).ConfigureAwait(false);
                }
                else
                {
                    string?[] cells =
                    [
                        h.ToString(CultureInfo.InvariantCulture), hash, time, i.ToString(CultureInfo.InvariantCulture), tx.Id.ToString(), tx.Contract,
                        tx.Function, org, name, o is null ? "" : o.Success ? "true" : "false", o?.Error,
                    ];
                    await writer.WriteLineAsync(string.Join(",", cells.Select(Csv))).ConfigureAwait(false);
                }
                rows++;
            }
        }
        if (json) await writer.WriteLineAsync(rows == 0 ? "]" : "\n]").ConfigureAwait(false);
        await writer.FlushAsync(context.Cancellation).ConfigureAwait(false);
        return rows;
    }

    private sealed record Row(ulong Height, string BlockHash, string Timestamp, int Index, string TxId, string Contract, string Function,
        string? SenderOrganisation, string? SenderName, bool? Succeeded, string? Error);

    /// <summary>RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. A field that a spreadsheet
    /// would take for a formula (=, +, -, @ first) is prefixed with a quote mark inside the quotes.</summary>
    internal static string Csv(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "";
        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r') value = "'" + value;
        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value[0] == '\'' ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}

internal static class RowJson
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}
