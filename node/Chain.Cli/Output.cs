using System.Globalization;
using System.Text;
using System.Text.Json;
using Chain.Accel;
using Chain.Ledger.Identity;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Chain.Cli;

/// <summary>
/// Where a command writes: human tables (Spectre.Console) by default, or one JSON document with --json. Every text
/// that comes from the ledger is rendered as plain text, never as Spectre markup.
/// </summary>
internal sealed class Output
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DictionaryKeyPolicy = null,
    };

    public Output(TextWriter writer, bool json)
    {
        Writer = writer;
        Json = json;
        var interactive = ReferenceEquals(writer, System.Console.Out);
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        // Redirected (tests, pipes): a fixed width, so tables do not depend on the terminal.
        if (!interactive || System.Console.IsOutputRedirected) Console.Profile.Width = 200;
    }

    public TextWriter Writer { get; }

    public bool Json { get; }

    public IAnsiConsole Console { get; }

    public void WriteJson(object document) => Writer.WriteLine(JsonSerializer.Serialize(document, JsonOptions));

    public void Line(string text = "") => Console.WriteLine(Printable(text));

    /// <summary>"name: value" lines, aligned.</summary>
    public void Fields(params (string Name, object? Value)[] fields)
    {
        var grid = new Grid().AddColumn(new GridColumn().NoWrap().PadRight(2)).AddColumn();
        foreach (var (name, value) in fields) grid.AddRow(new Text(name), new Text(Text(value)));
        Console.Write(grid);
    }

    public static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var c in columns) table.AddColumn(new TableColumn(new Text(c)));
        return table;
    }

    public static void Row(Table table, params object?[] cells) => table.AddRow([.. cells.Select(c => (IRenderable)new Text(Text(c)))]);

    public void Write(IRenderable renderable) => Console.Write(renderable);

    public static string Text(object? value) => value switch
    {
        null => "",
        string s => Printable(s),
        bool b => b ? "yes" : "no",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Printable(value.ToString() ?? ""),
    };

    /// <summary>
    /// Text from the ledger made safe for a terminal: line breaks and tabs escaped (\n, \r, \t), other control and
    /// format characters (escape sequences, bidirectional overrides) shown as '?'.
    /// </summary>
    public static string Printable(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            switch (c)
            {
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    sb.Append(char.IsControl(c) || char.GetUnicodeCategory(c) == UnicodeCategory.Format ? '?' : c);
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>A block timestamp (Unix ms) as UTC ISO 8601; the raw number if out of range.</summary>
    public static string Time(long unixMs) =>
        unixMs is >= -62_135_596_800_000 and <= 253_402_300_799_999
            ? DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
            : unixMs.ToString(CultureInfo.InvariantCulture);

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Bytes as UTF-8 text when they are printable UTF-8, else as lowercase hex.</summary>
    public static (string Text, string Encoding) Bytes(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var text = StrictUtf8.GetString(bytes);
            if (text.All(c => !char.IsControl(c) || c is '\n' or '\t' or '\r')) return (text, "utf8");
        }
        catch (DecoderFallbackException)
        {
        }
        return (Convert.ToHexStringLower(bytes), "hex");
    }

    /// <summary>The organisation and name the genesis gives a signing key (null, null if it lists none).</summary>
    public static (string? Organisation, string? Name) Member(Genesis genesis, PublicKey key) =>
        genesis.TryGetMember(key, out var m) ? (m.Organisation.Id, m.Name) : (null, null);

    public static string MemberText(Genesis genesis, PublicKey key) =>
        Member(genesis, key) is ({ } org, { } name) ? $"{org}/{name}" : $"unknown key {key.Raw.Short}";

    public static string ValidatorText(Genesis genesis, uint id) =>
        id <= ushort.MaxValue && genesis.Validators.TryGet((ushort)id, out var v) ? $"{id} ({v.Organisation}/{v.Name})" : $"{id} (not a validator)";

    public static string Hash(Hash32 hash) => hash.ToString();
}
