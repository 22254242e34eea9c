using Chain.Chaincode.Contracts;

namespace Chain.Chaincode;

/// <summary>The contracts every Chain node runs (all nodes of a chain must run the same set and versions).</summary>
public static class SystemContracts
{
    /// <summary>kv, models, custody, defense, fl.</summary>
    public static ContractRegistry Registry() => new ContractRegistry()
        .Register(new KeyValueContract())
        .Register(new ModelAttestationContract())
        .Register(new ShareCustodyContract())
        .Register(new DefenseLogContract())
        .Register(new FederatedRoundContract());
}
