using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chain.Ledger.Identity;

/// <summary>
/// JSON settings for files operators write by hand (genesis, key files, later node configs): camelCase,
/// unknown and duplicate properties refused, nullability and required constructor parameters enforced,
/// enums as names only.
/// </summary>
public static class StrictJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };
}
