namespace Chain.Chaincode.Contracts;

/// <summary>The system contracts' rule for ids (models, versions, secrets, devices, rounds...): 1-64 characters of [A-Za-z0-9._:-]. Readers check it before building a state key.</summary>
public static class ContractNames
{
    public const string Rule = "1-64 characters of [A-Za-z0-9._:-]";

    public static bool IsName(string value) =>
        value.Length is > 0 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':');
}
