using System.Collections.ObjectModel;
using System.Text.Json;
using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Ledger.Model;

namespace Chain.Ledger.Identity;

/// <summary>What an organisation may do on the ledger.</summary>
public enum Role
{
    /// <summary>A member hospital: runs a validator, submits transactions.</summary>
    Hospital,
    /// <summary>Reads and verifies; every write is refused.</summary>
    Auditor,
    /// <summary>The consortium's regulator: reads, and the governance actions contracts grant it.</summary>
    Regulator,
}

/// <summary>A client key (an application or person) that signs transactions for an organisation.</summary>
public sealed record ClientIdentity(string Name, PublicKey PublicKey);

/// <summary>A member of the consortium.</summary>
public sealed record Organisation(string Id, string Name, Role Role, IReadOnlyList<Validator> Nodes,
    IReadOnlyList<ClientIdentity> Clients);

/// <summary>Who a signing key belongs to.</summary>
public sealed record Member(Organisation Organisation, string Name, bool IsNode)
{
    public Role Role => Organisation.Role;
}

/// <summary>
/// The consortium's founding document: chain id, organisations with their roles, their nodes' (validators')
/// keys and addresses, and their client keys. Loaded strictly from JSON (unknown or duplicate properties,
/// missing fields, bad keys and broken rules are <see cref="LedgerError.InvalidGenesis"/>). Its hash, over a
/// canonical encoding of the parsed content (not the JSON text), is the "previous hash" of block 1.
/// </summary>
public sealed class Genesis
{
    private readonly Dictionary<PublicKey, Member> _members = new();

    private Genesis(string chainId, long timestamp, IReadOnlyList<Organisation> organisations,
        IReadOnlyDictionary<ushort, string> addresses)
    {
        ChainId = chainId;
        Timestamp = timestamp;
        Organisations = organisations;
        Addresses = addresses;
        Validators = new ValidatorSet(organisations.SelectMany(o => o.Nodes));
        foreach (var org in organisations)
        {
            foreach (var n in org.Nodes) AddMember(n.PublicKey, new Member(org, n.Name, true));
            foreach (var c in org.Clients) AddMember(c.PublicKey, new Member(org, c.Name, false));
        }
        Hash = ComputeHash();
    }

    public string ChainId { get; }

    /// <summary>Unix milliseconds; block 1's timestamp must be after it.</summary>
    public long Timestamp { get; }

    public IReadOnlyList<Organisation> Organisations { get; }
    public ValidatorSet Validators { get; }

    /// <summary>The network address of each validator ("host:port").</summary>
    public IReadOnlyDictionary<ushort, string> Addresses { get; }

    public Hash32 Hash { get; }

    /// <summary>The organisation and name behind a signing key, if the genesis lists it.</summary>
    public bool TryGetMember(PublicKey key, out Member member) => _members.TryGetValue(key, out member!);

    private void AddMember(PublicKey key, Member member)
    {
        if (!_members.TryAdd(key, member))
            throw new LedgerException(LedgerError.InvalidGenesis, $"public key {key.Raw.Short} is listed twice");
    }

    private Hash32 ComputeHash()
    {
        var w = new CanonicalWriter().U8(0x10).U8(1).String(ChainId).I64(Timestamp).U32((uint)Organisations.Count);
        foreach (var org in Organisations)
        {
            w.String(org.Id).String(org.Name).U8((byte)org.Role).U32((uint)org.Nodes.Count);
            foreach (var n in org.Nodes) w.U16(n.Id).String(n.Name).Hash(n.PublicKey.Raw).String(Addresses[n.Id]);
            w.U32((uint)org.Clients.Count);
            foreach (var c in org.Clients) w.String(c.Name).Hash(c.PublicKey.Raw);
        }
        return Hash32.Sha256(w.WrittenSpan);
    }

    // ---- JSON ----

    /// <summary>The JSON shape of a genesis file (see README).</summary>
    public sealed record Document(
        string ChainId,
        long Timestamp,
        List<OrganisationDocument> Organisations);

    public sealed record OrganisationDocument(string Id, string Name, Role Role, List<NodeDocument>? Nodes = null,
        List<ClientDocument>? Clients = null);

    public sealed record NodeDocument(ushort Id, string Name, string PublicKey, string Address);

    public sealed record ClientDocument(string Name, string PublicKey);

    public static Genesis LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LedgerException(LedgerError.InvalidGenesis, $"cannot read {path}: {e.Message}", e);
        }
        return Parse(text);
    }

    public static Genesis Parse(string json)
    {
        Document? doc;
        try
        {
            doc = JsonSerializer.Deserialize<Document>(json, StrictJson.Options);
        }
        catch (JsonException e)
        {
            throw new LedgerException(LedgerError.InvalidGenesis, $"not a valid genesis document: {e.Message}", e);
        }
        if (doc is null) throw new LedgerException(LedgerError.InvalidGenesis, "the document is empty (null)");
        return FromDocument(doc);
    }

    public static Genesis FromDocument(Document doc)
    {
        static LedgerException Bad(string message) => new(LedgerError.InvalidGenesis, message);
        if (!Identifiers.IsValid(doc.ChainId, LedgerLimits.Default.MaxIdentifierBytes))
            throw Bad("chainId must be 1-64 characters of [A-Za-z0-9._-]");
        if (doc.Timestamp < 0) throw Bad("timestamp must not be negative");
        if (doc.Organisations is null || doc.Organisations.Count == 0) throw Bad("organisations must not be empty");
        var orgs = new List<Organisation>();
        var addresses = new Dictionary<ushort, string>();
        foreach (var (o, i) in doc.Organisations.Select((o, i) => (o, i)))
        {
            var where = $"organisations[{i}]";
            if (o is null) throw Bad($"{where} is null");
            if (!Identifiers.IsValid(o.Id, 64)) throw Bad($"{where}.id must be 1-64 characters of [A-Za-z0-9._-]");
            if (string.IsNullOrWhiteSpace(o.Name)) throw Bad($"{where}.name is missing");
            if (!Enum.IsDefined(o.Role)) throw Bad($"{where}.role is not hospital, auditor or regulator");
            if (orgs.Any(x => x.Id == o.Id)) throw Bad($"{where}.id '{o.Id}' is used twice");
            var nodes = new List<Validator>();
            foreach (var (n, j) in (o.Nodes ?? []).Select((n, j) => (n, j)))
            {
                if (n is null || string.IsNullOrWhiteSpace(n.Name)) throw Bad($"{where}.nodes[{j}].name is missing");
                if (o.Role != Role.Hospital) throw Bad($"{where}: only hospitals run validator nodes");
                if (string.IsNullOrWhiteSpace(n.Address)) throw Bad($"{where}.nodes[{j}].address is missing");
                if (!addresses.TryAdd(n.Id, n.Address)) throw Bad($"{where}.nodes[{j}].id {n.Id} is used twice");
                nodes.Add(new Validator(n.Id, ParseKey(n.PublicKey, $"{where}.nodes[{j}].publicKey"), o.Id, n.Name));
            }
            var clients = (o.Clients ?? []).Select((c, j) =>
            {
                if (c is null || string.IsNullOrWhiteSpace(c.Name)) throw Bad($"{where}.clients[{j}].name is missing");
                return new ClientIdentity(c.Name, ParseKey(c.PublicKey, $"{where}.clients[{j}].publicKey"));
            }).ToList();
            orgs.Add(new Organisation(o.Id, o.Name, o.Role, nodes.AsReadOnly(), clients.AsReadOnly()));
        }
        if (addresses.Count == 0) throw Bad("no organisation runs a validator node");
        return new Genesis(doc.ChainId, doc.Timestamp, orgs.AsReadOnly(), new ReadOnlyDictionary<ushort, string>(addresses));
    }

    private static PublicKey ParseKey(string? hex, string where) =>
        Hash32.TryParse(hex, out var raw)
            ? new PublicKey(raw)
            : throw new LedgerException(LedgerError.InvalidGenesis, $"{where} must be 64 hex characters (an Ed25519 public key)");

    public Document ToDocument() => new(ChainId, Timestamp, Organisations.Select(o => new OrganisationDocument(
        o.Id, o.Name, o.Role,
        o.Nodes.Select(n => new NodeDocument(n.Id, n.Name, n.PublicKey.ToString(), Addresses[n.Id])).ToList(),
        o.Clients.Select(c => new ClientDocument(c.Name, c.PublicKey.ToString())).ToList())).ToList());

    public string ToJson() => JsonSerializer.Serialize(ToDocument(), StrictJson.Options);
}
