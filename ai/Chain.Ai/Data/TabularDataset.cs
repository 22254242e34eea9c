using System.Globalization;
using System.Text;

namespace Chain.Ai.Data;

/// <summary>A data file the loader cannot use: the message names the file, and the row and column where it can.</summary>
public sealed class DatasetException(string message) : Exception(message);

/// <summary>Which features to use: the network flow, the patient's vital signs, or both.</summary>
public enum FeatureGroup
{
    All,
    Network,
    Vitals,
}

/// <summary>How to read a tabular IoMT dataset (CSV with a header row).</summary>
public sealed record DatasetOptions
{
    /// <summary>The binary label column (0 = benign, anything else = attack), or null to derive it from the family.</summary>
    public string? LabelColumn { get; init; } = "Label";

    /// <summary>The attack-family column (e.g. "Attack Category"), or null when the file has none.</summary>
    public string? FamilyColumn { get; init; } = "Attack Category";

    /// <summary>The family value of benign rows (compared case-insensitively, trimmed).</summary>
    public string NormalValue { get; init; } = "normal";

    /// <summary>Columns never used as features (identifiers, constants and label leaks).</summary>
    public IReadOnlyList<string> Drop { get; init; } = [];

    /// <summary>A column giving the time order (used for ordering only, never as a feature); null = file order.</summary>
    public string? TimeColumn { get; init; }

    /// <summary>Feature columns that are vital signs; the rest are network features.</summary>
    public IReadOnlyList<string> VitalColumns { get; init; } = [];

    /// <summary>
    /// The defaults for WUSTL-EHMS-2020 (../shared/data/wustl-ehms-2020, whose README lists the leaks): drops
    /// <c>SrcMac</c> (a perfect label leak: the attacker's host sent every attack), <c>Flgs</c> (a near leak),
    /// <c>Packet_num</c> (a capture sequence number, i.e. a timestamp locating the attack bursts), <c>Sport</c>
    /// (an ephemeral port, an identifier) and the constant columns <c>Dir, SrcAddr, DstAddr, Dport, DstMac, SrcGap,
    /// DstGap, DIntPktAct, dMinPktSz, Trans</c>. Row order is capture order, so no time column is needed.
    /// </summary>
    public static DatasetOptions WustlEhms2020 { get; } = new()
    {
        LabelColumn = "Label",
        FamilyColumn = "Attack Category",
        NormalValue = "normal",
        Drop = ["SrcMac", "Flgs", "Packet_num", "Sport", "Dir", "SrcAddr", "DstAddr", "Dport", "DstMac", "SrcGap", "DstGap",
            "DIntPktAct", "dMinPktSz", "Trans"],
        VitalColumns = ["Temp", "SpO2", "Pulse_Rate", "SYS", "DIA", "Heart_rate", "Resp_Rate", "ST"],
    };
}

/// <summary>
/// A loaded dataset in time order: one row of float features per event, its binary label (1 = attack) and its family
/// ("normal" for benign rows). Immutable.
/// </summary>
public sealed class TabularDataset
{
    internal TabularDataset(string[] featureNames, bool[] isVital, float[][] rows, int[] labels, string[] families)
    {
        FeatureNames = featureNames;
        IsVital = isVital;
        Rows = rows;
        Labels = labels;
        Families = families;
    }

    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Per feature: true when it is a vital sign (else a network feature).</summary>
    public IReadOnlyList<bool> IsVital { get; }

    public IReadOnlyList<float[]> Rows { get; }

    public IReadOnlyList<int> Labels { get; }

    public IReadOnlyList<string> Families { get; }

    public int Count => Rows.Count;

    /// <summary>The distinct attack families (benign excluded), in order of first appearance.</summary>
    public IReadOnlyList<string> AttackFamilies(string normal = "normal") =>
        [.. Families.Where((f, i) => Labels[i] == 1 && !string.Equals(f, normal, StringComparison.OrdinalIgnoreCase)).Distinct()];

    /// <summary>The rows at <paramref name="indexes"/>, in that order.</summary>
    public TabularDataset Subset(IReadOnlyList<int> indexes) =>
        new([.. FeatureNames], [.. IsVital], [.. indexes.Select(i => Rows[i])], [.. indexes.Select(i => Labels[i])], [.. indexes.Select(i => Families[i])]);

    /// <summary>Only the features of <paramref name="group"/>.</summary>
    public TabularDataset Select(FeatureGroup group)
    {
        if (group == FeatureGroup.All) return this;
        var keep = Enumerable.Range(0, FeatureNames.Count).Where(j => IsVital[j] == (group == FeatureGroup.Vitals)).ToArray();
        if (keep.Length == 0) throw new DatasetException($"the dataset has no {group.ToString().ToLowerInvariant()} features");
        return new([.. keep.Select(j => FeatureNames[j])], [.. keep.Select(j => IsVital[j])],
            [.. Rows.Select(r => keep.Select(j => r[j]).ToArray())], [.. Labels], [.. Families]);
    }

    /// <summary>Loads a CSV file (comma-separated, header row, optional RFC 4180 quotes, CRLF or LF).</summary>
    public static TabularDataset Load(string path, DatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(path)) throw new DatasetException($"{path}: no such file");
        using var reader = new StreamReader(path, new UTF8Encoding(false, true));
        return Load(reader, options, path);
    }

    public static TabularDataset Load(TextReader reader, DatasetOptions options, string name = "data")
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(options);
        var header = ReadRecord(reader, name, 1) ?? throw new DatasetException($"{name}: the file is empty (no header row)");
        var columns = header.Select(h => h.Trim()).ToArray();
        var duplicate = columns.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new DatasetException($"{name}: column '{duplicate.Key}' appears twice in the header");
        int Index(string? column, string what)
        {
            if (column is null) return -1;
            var i = Array.IndexOf(columns, column);
            return i >= 0 ? i : throw new DatasetException($"{name}: the {what} column '{column}' is not in the header ({string.Join(", ", columns)})");
        }
        var label = Index(options.LabelColumn, "label");
        var family = Index(options.FamilyColumn, "family");
        var time = Index(options.TimeColumn, "time");
        if (label < 0 && family < 0) throw new DatasetException($"{name}: a label column or a family column is needed");
        foreach (var d in options.Drop)
        {
            if (Array.IndexOf(columns, d) < 0) throw new DatasetException($"{name}: the column '{d}' to drop is not in the header");
        }
        var dropped = new HashSet<string>(options.Drop, StringComparer.Ordinal);
        var features = Enumerable.Range(0, columns.Length)
            .Where(j => j != label && j != family && j != time && !dropped.Contains(columns[j]))
            .ToArray();
        if (features.Length == 0) throw new DatasetException($"{name}: no feature columns are left after dropping");
        var vitals = new HashSet<string>(options.VitalColumns, StringComparer.Ordinal);

        var rows = new List<float[]>();
        var labels = new List<int>();
        var families = new List<string>();
        var times = new List<double>();
        for (var line = 2; ; line++)
        {
            var record = ReadRecord(reader, name, line);
            if (record is null) break;
            if (record.Length == 1 && record[0].Length == 0) continue; // a blank line
            if (record.Length != columns.Length)
                throw new DatasetException($"{name}: row {line} has {record.Length} fields, the header has {columns.Length}");
            var row = new float[features.Length];
            for (var k = 0; k < features.Length; k++) row[k] = Number(record[features[k]], name, line, columns[features[k]]);
            var fam = family >= 0 ? record[family].Trim() : null;
            int y;
            if (label >= 0)
            {
                var v = Number(record[label], name, line, columns[label]);
                y = v == 0 ? 0 : 1;
                if (fam is not null && (y == 0) != string.Equals(fam, options.NormalValue, StringComparison.OrdinalIgnoreCase))
                    throw new DatasetException($"{name}: row {line}: label {record[label].Trim()} disagrees with family '{fam}'");
            }
            else
            {
                y = string.Equals(fam, options.NormalValue, StringComparison.OrdinalIgnoreCase) ? 0 : 1;
            }
            if (fam is { Length: 0 }) throw new DatasetException($"{name}: row {line}, column '{columns[family]}': empty family");
            rows.Add(row);
            labels.Add(y);
            families.Add(fam ?? (y == 0 ? options.NormalValue : "attack"));
            if (time >= 0) times.Add(Number(record[time], name, line, columns[time]));
        }
        if (rows.Count == 0) throw new DatasetException($"{name}: the file has a header but no data rows");
        var order = Enumerable.Range(0, rows.Count).ToArray();
        if (time >= 0)
        {
            // A stable sort: rows with equal times keep their file order.
            order = [.. order.OrderBy(i => times[i])];
        }
        return new TabularDataset([.. features.Select(j => columns[j])], [.. features.Select(j => vitals.Contains(columns[j]))],
            [.. order.Select(i => rows[i])], [.. order.Select(i => labels[i])], [.. order.Select(i => families[i])]);
    }

    private static float Number(string field, string name, int line, string column)
    {
        var text = field.Trim();
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new DatasetException($"{name}: row {line}, column '{column}': '{Shorten(text)}' is not a number");
        return (float)v;
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";

    /// <summary>One CSV record (RFC 4180 quotes allowed), or null at the end of the input.</summary>
    private static string[]? ReadRecord(TextReader reader, string name, int line)
    {
        var first = reader.Peek();
        if (first < 0) return null;
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var atStart = true;
        while (true)
        {
            var c = reader.Read();
            if (quoted)
            {
                if (c < 0) throw new DatasetException($"{name}: row {line}: a quoted field is not closed");
                if (c == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else quoted = false;
                }
                else
                {
                    field.Append((char)c);
                }
                continue;
            }
            if (c < 0 || c == '\n')
            {
                fields.Add(field.ToString());
                return [.. fields];
            }
            if (c == '\r')
            {
                if (reader.Peek() == '\n') reader.Read();
                fields.Add(field.ToString());
                return [.. fields];
            }
            if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
                atStart = true;
                continue;
            }
            if (c == '"' && atStart && field.ToString().Trim().Length == 0)
            {
                field.Clear();
                quoted = true;
                continue;
            }
            atStart = false;
            if (field.Length > 1 << 20) throw new DatasetException($"{name}: row {line}: a field is longer than 1 MiB");
            field.Append((char)c);
        }
    }
}
