using System.Globalization;
using System.Security.Cryptography;
using Chain.Accel.Encoding;
using Chain.Chaincode.Contracts;

namespace Chain.Ai.OnChain;

/// <summary>
/// One decision of the defense agent, as the agent keeps it. The defense-action log contract stores only part of it
/// (<see cref="ToContractAction"/>): agent, model version, severity, device and action in clear, and everything else
/// (the agent's decision time, the weights hash, the score, the reason and the event's own hash) bound into
/// <c>evidenceSha256</c> (<see cref="EvidenceSha256"/>), so an auditor holding the agent's record can check it against
/// the ledger while no score, reason or patient-derived value is on chain.
/// <para>Time: contracts read no clock, and the defense contract stores the block's timestamp (set by the proposer);
/// the agent's own decision time is <see cref="DecidedAtUnixMs"/>, committed through the evidence hash.</para>
/// </summary>
/// <param name="Device">The device acted on: a contract name (1-64 characters of [A-Za-z0-9._:-]).</param>
/// <param name="Action">What the agent did (e.g. alert, isolate, rate-limit): a contract name.</param>
/// <param name="Severity">One of info, low, medium, high, critical.</param>
/// <param name="DecidedAtUnixMs">When the agent decided, in Unix milliseconds (its clock, not the ledger's).</param>
/// <param name="ModelVersion">The model version that decided, as a contract name (e.g. "iomt-ids:3").</param>
/// <param name="ModelWeightsSha256">The SHA-256 (64 lowercase hex) of the weights file that decided (see <see cref="ModelAttestor"/>).</param>
/// <param name="Score">The detector's score (finite).</param>
/// <param name="Reason">A short explanation (at most <see cref="MaxReasonLength"/> characters; may be empty). Never patient data.</param>
/// <param name="EventSha256">The SHA-256 of the event the decision was about, or null.</param>
public sealed record DefenseActionRecord(
    string Device,
    string Action,
    string Severity,
    long DecidedAtUnixMs,
    string ModelVersion,
    string ModelWeightsSha256,
    double Score,
    string Reason,
    string? EventSha256 = null)
{
    public const int MaxReasonLength = 1024;

    private static readonly byte[] EvidenceLabel = "chain-ai/defense-action/v1"u8.ToArray();

    /// <summary>Why this record cannot be logged, or null when it can. Never throws (it runs on the decision path).</summary>
    public string? Problem()
    {
        if (Device is null || !ContractNames.IsName(Device)) return $"device must be {ContractNames.Rule}";
        if (Action is null || !ContractNames.IsName(Action)) return $"action must be {ContractNames.Rule}";
        if (Severity is null || !DefenseLogContract.Severities.Contains(Severity)) return "severity must be one of info, low, medium, high, critical";
        if (DecidedAtUnixMs < 0) return "the decision time must be a non-negative Unix time in ms";
        if (ModelVersion is null || !ContractNames.IsName(ModelVersion)) return $"model version must be {ContractNames.Rule}";
        if (!IsSha256(ModelWeightsSha256)) return "the weights hash must be 64 lowercase hex characters (SHA-256)";
        if (!double.IsFinite(Score)) return "the score must be a finite number";
        if (Reason is null || Reason.Length > MaxReasonLength) return $"the reason must be at most {MaxReasonLength} characters (empty is allowed)";
        if (EventSha256 is not null && !IsSha256(EventSha256)) return "the event hash must be null or 64 lowercase hex characters (SHA-256)";
        return null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the problem unless the record can be logged.</summary>
    public DefenseActionRecord Validate() =>
        Problem() is { } problem ? throw new ArgumentException($"defense action record: {problem}") : this;

    /// <summary>
    /// SHA-256 (lowercase hex) of the canonical encoding of the whole record and the agent's name: a domain label, then
    /// agent, device, action, severity, decision time (8 bytes big-endian), model version, weights hash, score (IEEE-754
    /// bits, 8 bytes big-endian), reason and event hash ("" if none), each string as a 4-byte length and UTF-8.
    /// </summary>
    public string EvidenceSha256(string agent)
    {
        var w = new CanonicalWriter(256).Fixed(EvidenceLabel).String(agent).String(Device).String(Action).String(Severity)
            .I64(DecidedAtUnixMs).String(ModelVersion).String(ModelWeightsSha256).U64(BitConverter.DoubleToUInt64Bits(Score))
            .String(Reason).String(EventSha256 ?? "");
        return Convert.ToHexStringLower(SHA256.HashData(w.WrittenSpan));
    }

    /// <summary>The action exactly as the defense contract takes it (<c>record(batchJson)</c>), for agent <paramref name="agent"/>.</summary>
    public DefenseAction ToContractAction(string agent) => new(agent, ModelVersion, Severity, Device, Action, EvidenceSha256(agent));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Action} {Device} ({Severity}, score {Score:0.###}, {ModelVersion}, at {DecidedAtUnixMs})");

    internal static bool IsSha256(string? value) => value is { Length: 64 } && value.All(char.IsAsciiHexDigitLower);
}
