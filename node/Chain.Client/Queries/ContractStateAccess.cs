using Chain.Chaincode.Contracts;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Chain.Chaincode;

namespace Chain.Client.Queries;

/// <summary>
/// What the query classes share: input names checked against the contracts' name rule (so a hostile argument cannot
/// widen a prefix scan), and state values parsed strictly, with any malformed value reported as an
/// <see cref="InvalidDataException"/> that names its state key.
/// </summary>
internal static class ContractStateAccess
{
    /// <summary>
    /// The contracts' JSON options, stricter on reading: a record missing a constructor property or holding null where
    /// the record type does not allow it is malformed, not a record with nulls inside.
    /// </summary>
    private static readonly JsonSerializerOptions Strict = new(ContractJson.Options)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="value"/> is 1-64 characters of [A-Za-z0-9._:-].</summary>
    public static void RequireName(string? value, string paramName, string what)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (!IsName(value))
        {
            throw new ArgumentException(
                $"{what} '{Printable(value)}' is not a valid name: names are {ContractNames.Rule}", paramName);
        }
    }

    public static bool IsName(string value) => ContractNames.IsName(value);

    /// <summary>A bounded, control-character-free rendering of untrusted input for error messages.</summary>
    private static string Printable(string value)
    {
        var shown = value.Length > 80 ? value[..80] + "..." : value;
        return new string([.. shown.Select(c => char.IsControl(c) ? '?' : c)]);
    }

    public static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    /// <summary>The text of a state key as read from the store; a key that is not UTF-8 is malformed state.</summary>
    public static string KeyText(byte[] key)
    {
        try
        {
            return StrictUtf8.GetString(key);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"state key {Convert.ToHexStringLower(key)} (hex) is not UTF-8");
        }
    }

    /// <summary>Parses a JSON contract record stored under <paramref name="key"/>.</summary>
    public static T Json<T>(string key, byte[] value) where T : class
    {
        T? record;
        try
        {
            record = JsonSerializer.Deserialize<T>(value, Strict);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"state {key} is not a valid {typeof(T).Name} record: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new InvalidDataException($"state {key} is not a valid {typeof(T).Name} record: {e.Message}", e);
        }
        return record ?? throw new InvalidDataException($"state {key} is null, not a {typeof(T).Name} record");
    }

    /// <summary>Parses a stored text value (UTF-8) under <paramref name="key"/>.</summary>
    public static string Text(string key, byte[] value)
    {
        try
        {
            return StrictUtf8.GetString(value);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"state {key} is not UTF-8 text", e);
        }
    }

    /// <summary>Parses a stored whole number (the models' endorsement policy) under <paramref name="key"/>.</summary>
    public static int Int(string key, byte[] value)
    {
        var text = Text(key, value);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new InvalidDataException($"state {key} is not a whole number: '{Printable(text)}'");
    }

    /// <summary>Parses a stored non-negative decimal (privacy budgets and spent epsilon) under <paramref name="key"/>.</summary>
    public static decimal Decimal(string key, byte[] value)
    {
        var text = Text(key, value);
        return decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d)
            ? d
            : throw new InvalidDataException($"state {key} is not a non-negative decimal number: '{Printable(text)}'");
    }
}
