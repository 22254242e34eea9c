using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Chain.Chaincode.Contracts;

/// <summary>Argument helpers shared by the system contracts: exact counts, strict UTF-8, names, hashes, decimals.</summary>
internal static class ContractArgs
{
    /// <summary>How the system contracts read and write their JSON: unknown and duplicate properties are refused.</summary>
    public static JsonSerializerOptions Json => ContractJson.Options;

    private static readonly UTF8Encoding Strict = new(false, true);

    public static string[] Strings(ContractContext ctx, IReadOnlyList<ReadOnlyMemory<byte>> args, int count, string usage)
    {
        ctx.Require(args.Count == count, $"usage: {usage}");
        var strings = new string[count];
        for (var i = 0; i < count; i++)
        {
            try
            {
                strings[i] = Strict.GetString(args[i].Span);
            }
            catch (DecoderFallbackException)
            {
                throw new ContractException($"argument {i + 1} of {usage} is not UTF-8");
            }
        }
        return strings;
    }

    public static void Name(ContractContext ctx, string value, string what) =>
        ctx.Require(ContractNames.IsName(value), $"{what} must be {ContractNames.Rule}");

    public static void Sha256(ContractContext ctx, string value, string what) =>
        ctx.Require(value.Length == 64 && value.All(char.IsAsciiHexDigitLower), $"{what} must be 64 lowercase hex characters (SHA-256)");

    public static decimal Decimal(ContractContext ctx, string value, string what)
    {
        ctx.Require(decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d) && d >= 0,
            $"{what} must be a non-negative decimal number");
        return d;
    }

    public static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}
