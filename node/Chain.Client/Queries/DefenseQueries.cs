using System.Globalization;
using System.Runtime.CompilerServices;
using Chain.Chaincode.Contracts;
using static Chain.Client.Queries.ContractStateAccess;

namespace Chain.Client.Queries;

/// <summary>
/// A query over the defense-action log. <paramref name="Since"/> (inclusive) and <paramref name="Until"/> (exclusive)
/// are block timestamps in Unix milliseconds; <paramref name="Device"/> and <paramref name="Severity"/> filter exactly;
/// at most <paramref name="Limit"/> (1 to 10,000) actions are returned, oldest first.
/// </summary>
public sealed record DefenseQuery(long? Since = null, long? Until = null, string? Device = null, string? Severity = null, int Limit = 100);

/// <summary>
/// Read-side queries over the defense-action log ("defense/t/&lt;timestamp D20&gt;/&lt;tx&gt;/&lt;i&gt;" records, with
/// empty index entries "defense/d/&lt;device&gt;/..." and "defense/s/&lt;severity&gt;/..." under the same suffix).
/// A query scans the index that narrows most (device, else severity, else the time-ordered records), restricted to the
/// time range by prefix scans over the zero-padded timestamps, filters what remains and resolves index entries to their
/// records.
/// </summary>
public sealed class DefenseQueries(IStateReader reader)
{
    public const int MaxLimit = 10_000;

    private const string Root = DefenseLogContract.ContractId + "/";
    private const string Records = Root + "t/";
    private const int TimeDigits = 20;

    /// <summary>How many of a timestamp's last digits are not split into separate prefix scans: entries up to a second
    /// before <see cref="DefenseQuery.Since"/> may be read and skipped, which saves up to 27 scans.</summary>
    private const int UnsplitDigits = 3;

    private readonly IStateReader _reader = reader ?? throw new ArgumentNullException(nameof(reader));

    /// <summary>The logged actions matching <paramref name="query"/>, in time order, at most <see cref="DefenseQuery.Limit"/>.</summary>
    public async Task<IReadOnlyList<LoggedAction>> QueryAsync(DefenseQuery query, CancellationToken cancellationToken = default)
    {
        Validate(query, requireLimit: true);
        var results = new List<LoggedAction>();
        await foreach (var action in MatchesAsync(query, cancellationToken).ConfigureAwait(false))
        {
            results.Add(action);
            if (results.Count == query.Limit) break;
        }
        return results;
    }

    /// <summary>How many logged actions match <paramref name="query"/> (its <see cref="DefenseQuery.Limit"/> is ignored).</summary>
    public async Task<long> CountAsync(DefenseQuery query, CancellationToken cancellationToken = default)
    {
        Validate(query, requireLimit: false);
        long count = 0;
        await foreach (var _ in MatchesAsync(query, cancellationToken).ConfigureAwait(false)) count++;
        return count;
    }

    private static void Validate(DefenseQuery query, bool requireLimit)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (requireLimit && query.Limit is < 1 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Limit,
                $"Limit must be from 1 to {MaxLimit.ToString(CultureInfo.InvariantCulture)} actions");
        }
        if (query.Since is < 0) throw new ArgumentOutOfRangeException(nameof(query), query.Since, "Since must be a non-negative Unix time in ms");
        if (query.Until is < 0) throw new ArgumentOutOfRangeException(nameof(query), query.Until, "Until must be a non-negative Unix time in ms");
        if (query.Since is { } s && query.Until is { } u && u < s)
        {
            throw new ArgumentException($"Until ({u.ToString(CultureInfo.InvariantCulture)}) is before Since ({s.ToString(CultureInfo.InvariantCulture)})", nameof(query));
        }
        if (query.Device is not null) RequireName(query.Device, nameof(query), "device");
        if (query.Severity is not null && !DefenseLogContract.Severities.Contains(query.Severity))
        {
            throw new ArgumentException($"severity must be one of info, low, medium, high, critical (not '{query.Severity}')", nameof(query));
        }
    }

    private async IAsyncEnumerable<LoggedAction> MatchesAsync(DefenseQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The index that narrows most; the other filter, if any, is checked on the record.
        var (index, filterSeverity) = query switch
        {
            { Device: { } device } => ($"{Root}d/{device}/", query.Severity),
            { Severity: { } severity } => ($"{Root}s/{severity}/", null),
            _ => (Records, (string?)null),
        };
        var low = query.Since ?? 0;
        var high = query.Until is { } until ? until - 1 : long.MaxValue; // inclusive
        if (high < low) yield break;
        var whole = query.Since is null && query.Until is null;

        foreach (var timePrefix in whole ? [""] : TimePrefixes(low, high))
        {
            await foreach (var (rawKey, value) in _reader.ScanAsync(Key(index + timePrefix), cancellationToken).ConfigureAwait(false))
            {
                var key = KeyText(rawKey);
                var suffix = key[index.Length..];
                var time = Timestamp(key, suffix);
                if (time < low) continue;
                if (time > high) yield break; // keys are in time order: nothing later can match
                LoggedAction action;
                if (index == Records)
                {
                    action = Record(key, time, value);
                }
                else
                {
                    var recordKey = Records + suffix;
                    var recordValue = await _reader.GetAsync(Key(recordKey), cancellationToken).ConfigureAwait(false)
                        ?? throw new InvalidDataException($"state {key} indexes {recordKey}, which is missing");
                    action = Record(recordKey, time, recordValue);
                    if (query.Device is { } d && action.Entry.Device != d)
                    {
                        throw new InvalidDataException($"state {key} indexes {recordKey}, which is an action on device {action.Entry.Device}");
                    }
                    if (query.Device is null && query.Severity is { } s && action.Entry.Severity != s)
                    {
                        throw new InvalidDataException($"state {key} indexes {recordKey}, which has severity {action.Entry.Severity}");
                    }
                }
                if (filterSeverity is not null && action.Entry.Severity != filterSeverity) continue;
                yield return action;
            }
        }
    }

    private static LoggedAction Record(string key, long time, byte[] value)
    {
        var action = Json<LoggedAction>(key, value);
        if (action.Timestamp != time)
        {
            throw new InvalidDataException(
                $"state {key} records timestamp {action.Timestamp.ToString(CultureInfo.InvariantCulture)}, not the one in its key");
        }
        return action;
    }

    /// <summary>The block timestamp at the start of an index or record key suffix ("&lt;D20&gt;/&lt;tx&gt;/&lt;i&gt;").</summary>
    private static long Timestamp(string key, string suffix)
    {
        if (suffix.Length <= TimeDigits || suffix[TimeDigits] != '/' ||
            !long.TryParse(suffix.AsSpan(0, TimeDigits), NumberStyles.None, CultureInfo.InvariantCulture, out var time))
        {
            throw new InvalidDataException($"state key {key} does not continue with a 20-digit timestamp");
        }
        return time;
    }

    /// <summary>
    /// Prefixes of 20-digit zero-padded timestamps, in ascending order, whose union covers [low, high] (inclusive) and
    /// little else: the window of <paramref name="low"/> (its last <see cref="UnsplitDigits"/> digits unsplit), then for
    /// each coarser digit the windows after it, up to the first digit where low and high differ; the windows between them;
    /// and high's window at that digit, which the scan leaves at the first key past high.
    /// </summary>
    internal static IEnumerable<string> TimePrefixes(long low, long high)
    {
        var lo = low.ToString("D20", CultureInfo.InvariantCulture);
        var hi = high.ToString("D20", CultureInfo.InvariantCulture);
        var common = 0;
        while (common < TimeDigits && lo[common] == hi[common]) common++;
        if (common == TimeDigits || (lo.AsSpan(common).IndexOfAnyExcept('0') < 0 && hi.AsSpan(common).IndexOfAnyExcept('9') < 0))
        {
            yield return lo[..common]; // one whole window
            yield break;
        }

        // The part of low's window at the differing digit that is at or after low.
        var significant = TimeDigits;
        while (significant > common + 1 && lo[significant - 1] == '0') significant--;
        var first = Math.Max(common + 1, Math.Min(significant, TimeDigits - UnsplitDigits));
        yield return lo[..first];
        for (var digit = first - 1; digit > common; digit--)
        {
            for (var d = (char)(lo[digit] + 1); d <= '9'; d++) yield return lo[..digit] + d;
        }

        // Whole windows between low's and high's at the differing digit, then high's.
        for (var d = (char)(lo[common] + 1); d <= hi[common]; d++) yield return lo[..common] + d;
    }
}
