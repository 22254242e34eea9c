namespace Chain.Ledger.Model;

/// <summary>Rules for the identifiers that appear in transactions: chain id, contract id, function name.</summary>
public static class Identifiers
{
    /// <summary>1 to <paramref name="maxBytes"/> characters from [A-Za-z0-9._-].</summary>
    public static bool IsValid(string? value, int maxBytes)
    {
        if (string.IsNullOrEmpty(value) || value.Length > maxBytes) return false;
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')) return false;
        }
        return true;
    }

    internal static string Check(string value, int maxBytes, string field)
    {
        if (!IsValid(value, maxBytes))
            throw new LedgerException(LedgerError.Malformed, $"{field} must be 1-{maxBytes} characters of [A-Za-z0-9._-]");
        return value;
    }
}
