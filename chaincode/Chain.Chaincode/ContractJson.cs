using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chain.Chaincode;

/// <summary>How the system contracts write their JSON records, and how readers must parse them: unknown and duplicate properties are refused.</summary>
public static class ContractJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };
}
