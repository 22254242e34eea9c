using System.Globalization;
using Chain.Accel;

namespace Chain.Cli;

/// <summary>Parses hostile command-line values into typed ones, with one clear message each.</summary>
internal static class Args
{
    /// <summary>A block height, 1 or more.</summary>
    public static ulong Height(string? text, string what)
    {
        if (text is null) throw new CliException($"{what} is missing");
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var h) || h == 0)
        {
            throw new CliException($"{what} '{Show(text)}' is not a block height (a whole number from 1)");
        }
        return h;
    }

    public static ulong? OptionalHeight(string? text, string what) => text is null ? null : Height(text, what);

    public static Hash32 TxId(string? text)
    {
        if (!Hash32.TryParse(text?.Trim(), out var id)) throw new CliException($"transaction id '{Show(text ?? "")}' is not 64 hex characters");
        return id;
    }

    /// <summary>A point in time: ISO 8601 (no offset means UTC) or Unix milliseconds.</summary>
    public static long? Time(string? text, string what)
    {
        if (text is null) return null;
        if (text.Length > 0 && text.All(char.IsAsciiDigit))
        {
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                ? ms
                : throw new CliException($"{what} '{Show(text)}' is too large for Unix milliseconds");
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var t))
        {
            var unix = t.ToUnixTimeMilliseconds();
            return unix >= 0 ? unix : throw new CliException($"{what} '{Show(text)}' is before 1970");
        }
        throw new CliException($"{what} '{Show(text)}' is not a time: use ISO 8601 (2026-01-31T12:00:00Z) or Unix milliseconds");
    }

    /// <summary>A bounded, control-free rendering of user input for messages.</summary>
    public static string Show(string text) => Cli.OneLine(text.Length > 80 ? text[..80] + "..." : text);

    /// <summary>Checks a range of heights against the tip; <paramref name="maxSpan"/> bounds it (0: unbounded).</summary>
    public static (ulong From, ulong To) Range(ulong? from, ulong? to, ulong tip, ulong defaultSpan, ulong maxSpan)
    {
        if (tip == 0) throw new CliException("the ledger has no blocks yet (height 0)");
        if (from is { } f && to is { } t0 && f > t0) throw new CliException($"--from {f} is after --to {t0}");
        if (from > tip) throw new CliException($"--from {from} is above the tip (height {tip})");
        if (to > tip) throw new CliException($"--to {to} is above the tip (height {tip})");
        var end = to ?? (from is { } start && defaultSpan > 0 ? Math.Min(tip, start + defaultSpan - 1) : tip);
        var begin = from ?? (defaultSpan == 0 || end < defaultSpan ? 1 : end - defaultSpan + 1);
        if (maxSpan > 0 && end - begin + 1 > maxSpan)
        {
            throw new CliException($"--from {begin} --to {end} is {end - begin + 1} blocks; at most {maxSpan} at once (use 'chain export' for more)");
        }
        return (begin, end);
    }
}
