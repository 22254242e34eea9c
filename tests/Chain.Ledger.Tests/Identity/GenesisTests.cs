using System.Text.Json.Nodes;
using Chain.Ledger.Identity;

namespace Chain.Ledger.Tests.Identity;

public class GenesisTests
{
    private static readonly string ValidJson = TestData.GenesisJson(validators: 4, clientsPerHospital: 2);

    /// <summary>The valid document, changed by <paramref name="edit"/>, as JSON text.</summary>
    private static string Edited(Action<JsonNode> edit)
    {
        var root = JsonNode.Parse(ValidJson)!;
        edit(root);
        return root.ToJsonString();
    }

    private static JsonNode Org(JsonNode root, int i) => root["organisations"]![i]!;

    private static void Invalid(string json, string messagePart) =>
        LedgerAssert.Throws(LedgerError.InvalidGenesis, messagePart, () => Genesis.Parse(json));

    // ---- valid ----

    [Fact]
    public void A_valid_genesis_parses()
    {
        var g = Genesis.Parse(ValidJson);
        Assert.Equal(TestData.ChainId, g.ChainId);
        Assert.Equal(TestData.GenesisTimestamp, g.Timestamp);
        Assert.Equal(6, g.Organisations.Count);
        Assert.Equal(4, g.Validators.Count);
        Assert.Equal(3, g.Validators.Quorum);
        Assert.Equal("127.0.0.1:7002", g.Addresses[2]);
        var net = TestData.Network(validators: 4, clientsPerHospital: 2);
        Assert.Equal(net.Genesis.Hash, g.Hash);
        Assert.True(g.TryGetMember(net.ValidatorKeys[1].PublicKey, out var node));
        Assert.True(node.IsNode && node.Role == Role.Hospital);
        Assert.Equal("hospital-1", node.Organisation.Id);
        Assert.True(g.TryGetMember(net.ClientKeys[3].PublicKey, out var client));
        Assert.True(!client.IsNode && client.Name == "client-1-1");
        Assert.True(g.TryGetMember(net.AuditorKey.PublicKey, out var auditor) && auditor.Role == Role.Auditor);
        Assert.True(g.TryGetMember(net.RegulatorKey.PublicKey, out var regulator) && regulator.Role == Role.Regulator);
        Assert.False(g.TryGetMember(TestData.Key(0).PublicKey, out _));
    }

    [Fact]
    public void ToJson_parses_back_to_the_same_hash()
    {
        var g = Genesis.Parse(ValidJson);
        var again = Genesis.Parse(g.ToJson());
        Assert.Equal(g.Hash, again.Hash);
        Assert.Equal(g.ToJson(), again.ToJson());
        Assert.Equal(g.Hash, Genesis.FromDocument(g.ToDocument()).Hash);
    }

    [Fact]
    public void The_hash_is_over_the_content_not_the_JSON_text()
    {
        var g = Genesis.Parse(ValidJson);
        // Compact, with properties in another order and upper-case key hex.
        var reordered = Edited(root =>
        {
            var obj = root.AsObject();
            var chainId = obj["chainId"]!.DeepClone();
            obj.Remove("chainId");
            obj.Add("chainId", chainId);
            var key = root["organisations"]![0]!["nodes"]![0]!["publicKey"]!;
            root["organisations"]![0]!["nodes"]![0]!["publicKey"] = key.GetValue<string>().ToUpperInvariant();
        });
        Assert.Equal(g.Hash, Genesis.Parse(reordered).Hash);
    }

    [Fact]
    public void The_hash_changes_when_any_key_changes()
    {
        var original = Genesis.Parse(ValidJson).Hash;
        var root = JsonNode.Parse(ValidJson)!;
        var places = new List<(int Org, string List, int Item)>();
        var orgs = root["organisations"]!.AsArray();
        for (var o = 0; o < orgs.Count; o++)
        {
            foreach (var list in new[] { "nodes", "clients" })
            {
                for (var i = 0; i < orgs[o]![list]!.AsArray().Count; i++) places.Add((o, list, i));
            }
        }
        Assert.Equal(4 + 4 * 2 + 2, places.Count);
        var hashes = new HashSet<Chain.Accel.Hash32> { original };
        foreach (var (o, list, i) in places)
        {
            var newKey = TestData.Key(9000).PublicKey.ToString();
            var json = Edited(r => r["organisations"]![o]![list]![i]!["publicKey"] = newKey);
            Assert.True(hashes.Add(Genesis.Parse(json).Hash),
                $"changing organisations[{o}].{list}[{i}] kept an earlier hash");
        }
    }

    [Fact]
    public void The_hash_changes_with_the_chain_id_timestamp_names_roles_and_addresses()
    {
        var original = Genesis.Parse(ValidJson).Hash;
        Action<JsonNode>[] edits =
        [
            r => r["chainId"] = "other",
            r => r["timestamp"] = TestData.GenesisTimestamp + 1,
            r => Org(r, 0)["name"] = "Renamed",
            r => Org(r, 5)["role"] = "auditor",
            r => Org(r, 1)["nodes"]![0]!["address"] = "10.0.0.1:7001",
            r => Org(r, 1)["nodes"]![0]!["id"] = 40,
            r => Org(r, 1)["clients"]![0]!["name"] = "renamed-client",
        ];
        foreach (var edit in edits) Assert.NotEqual(original, Genesis.Parse(Edited(edit)).Hash);
    }

    [Fact]
    public void LoadFile_reads_a_file_and_reports_a_missing_one()
    {
        var dir = Directory.CreateTempSubdirectory("chain-genesis-");
        try
        {
            var path = Path.Combine(dir.FullName, "genesis.json");
            File.WriteAllText(path, ValidJson);
            Assert.Equal(Genesis.Parse(ValidJson).Hash, Genesis.LoadFile(path).Hash);
            LedgerAssert.Throws(LedgerError.InvalidGenesis, "cannot read", () => Genesis.LoadFile(path + ".missing"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    // ---- malformed ----

    [Theory]
    [InlineData("this is not json", "not a valid genesis document")]
    [InlineData("", "not a valid genesis document")]
    [InlineData("   ", "not a valid genesis document")]
    [InlineData("{", "not a valid genesis document")]
    [InlineData("[]", "not a valid genesis document")]
    [InlineData("\"text\"", "not a valid genesis document")]
    [InlineData("null", "empty (null)")]
    [InlineData("{}", "chainId")]
    public void Documents_that_are_not_a_genesis_object_are_refused(string json, string messagePart) =>
        Invalid(json, messagePart);

    [Theory]
    [InlineData("chainId")]
    [InlineData("timestamp")]
    [InlineData("organisations")]
    public void A_missing_top_level_property_is_named(string property) =>
        Invalid(Edited(r => r.AsObject().Remove(property)), property);

    [Fact]
    public void Missing_properties_of_organisations_nodes_and_clients_are_named()
    {
        Invalid(Edited(r => Org(r, 0).AsObject().Remove("role")), "role");
        Invalid(Edited(r => Org(r, 0).AsObject().Remove("id")), "id");
        Invalid(Edited(r => Org(r, 0)["nodes"]![0]!.AsObject().Remove("publicKey")), "publicKey");
        Invalid(Edited(r => Org(r, 0)["nodes"]![0]!.AsObject().Remove("address")), "address");
        Invalid(Edited(r => Org(r, 0)["clients"]![0]!.AsObject().Remove("publicKey")), "publicKey");
        Invalid(Edited(r => r["chainId"] = null), "chainId");
    }

    /// <summary>"nodes" and "clients" are optional: an auditor's entry may leave them out or set them to null.</summary>
    [Fact]
    public void Nodes_and_clients_may_be_null_or_omitted()
    {
        Assert.Equal(4, Genesis.Parse(Edited(r => Org(r, 4)["nodes"] = null)).Validators.Count);
        Assert.Empty(Genesis.Parse(Edited(r => Org(r, 0)["clients"] = null)).Organisations[0].Clients);
        Assert.Equal(4, Genesis.Parse(Edited(r => Org(r, 4).AsObject().Remove("nodes"))).Validators.Count);
        Assert.Empty(Genesis.Parse(Edited(r => Org(r, 0).AsObject().Remove("clients"))).Organisations[0].Clients);
    }

    [Fact]
    public void An_unknown_property_is_named()
    {
        Invalid(Edited(r => r["validatorCount"] = 4), "'validatorCount' could not be mapped");
        Invalid(Edited(r => Org(r, 0)["nodes"]![0]!["port"] = 7000), "port");
    }

    [Fact]
    public void A_duplicate_property_is_refused()
    {
        // A second "chainId" could otherwise smuggle a different chain past a reader that takes the first one.
        Invalid("{\"chainId\":\"evil-chain\"," + ValidJson.TrimStart()[1..], "duplicate property 'chainId'");
        Invalid(Edited(r => Org(r, 0)["name"] = "X").Replace("\"name\":\"X\"", "\"name\":\"X\",\"name\":\"Y\""),
            "duplicate property 'name'");
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("zz5f8b6e2f0b7fbb4a1f1d1c5b3c0f5c2a8e1f0d3b9a7c6e5d4f3a2b1c0d9e8f")] // 64 characters, not hex
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00")] // 66 hex characters
    public void A_bad_public_key_is_named(string key)
    {
        Invalid(Edited(r => Org(r, 1)["nodes"]![0]!["publicKey"] = key),
            "organisations[1].nodes[0].publicKey must be 64 hex");
        Invalid(Edited(r => Org(r, 4)["clients"]![0]!["publicKey"] = key),
            "organisations[4].clients[0].publicKey must be 64 hex");
    }

    [Fact]
    public void A_duplicate_node_id_is_refused() =>
        Invalid(Edited(r => Org(r, 2)["nodes"]![0]!["id"] = 0), "organisations[2].nodes[0].id 0 is used twice");

    [Fact]
    public void A_key_listed_twice_is_refused()
    {
        string KeyAt(JsonNode r, int org, string list) =>
            r["organisations"]![org]![list]![0]!["publicKey"]!.GetValue<string>();
        // Two validators with one key.
        Invalid(Edited(r => Org(r, 1)["nodes"]![0]!["publicKey"] = KeyAt(r, 0, "nodes")), "share a public key");
        // Two clients with one key, in different organisations.
        Invalid(Edited(r => Org(r, 4)["clients"]![0]!["publicKey"] = KeyAt(r, 0, "clients")), "listed twice");
        // A client using a validator's key.
        Invalid(Edited(r => Org(r, 5)["clients"]![0]!["publicKey"] = KeyAt(r, 3, "nodes")), "listed twice");
    }

    [Fact]
    public void An_auditor_or_regulator_running_a_node_is_refused()
    {
        var node = new JsonObject
        {
            ["id"] = 10, ["name"] = "audit-node", ["publicKey"] = TestData.Key(9001).PublicKey.ToString(),
            ["address"] = "127.0.0.1:7010",
        };
        Invalid(Edited(r => Org(r, 4)["nodes"] = new JsonArray(node.DeepClone())),
            "organisations[4]: only hospitals run validator nodes");
        Invalid(Edited(r => Org(r, 5)["nodes"] = new JsonArray(node.DeepClone())),
            "organisations[5]: only hospitals run validator nodes");
        Invalid(Edited(r => Org(r, 0)["role"] = "auditor"), "only hospitals run validator nodes");
    }

    [Fact]
    public void A_consortium_without_validators_is_refused()
    {
        Invalid(Edited(r =>
        {
            foreach (var org in r["organisations"]!.AsArray()) org!["nodes"] = new JsonArray();
        }), "no organisation runs a validator node");
        Invalid(Edited(r =>
        {
            foreach (var org in r["organisations"]!.AsArray()) org!["nodes"] = null;
        }), "no organisation runs a validator node");
        Invalid(Edited(r => r["organisations"] = new JsonArray()), "organisations must not be empty");
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("Hospitals")]
    [InlineData("")]
    public void A_bad_role_string_is_refused(string role) =>
        Invalid(Edited(r => Org(r, 0)["role"] = role), "organisations[0].role");

    [Fact]
    public void A_numeric_role_is_refused() => Invalid(Edited(r => Org(r, 0)["role"] = 0), "organisations[0].role");

    [Fact]
    public void Other_broken_rules_are_named()
    {
        Invalid(Edited(r => r["chainId"] = "has space"), "chainId must be");
        Invalid(Edited(r => r["chainId"] = ""), "chainId must be");
        Invalid(Edited(r => r["timestamp"] = -1), "timestamp must not be negative");
        Invalid(Edited(r => Org(r, 1)["id"] = "hospital-0"), "organisations[1].id 'hospital-0' is used twice");
        Invalid(Edited(r => Org(r, 1)["id"] = "bad id"), "organisations[1].id must be");
        Invalid(Edited(r => Org(r, 1)["name"] = " "), "organisations[1].name is missing");
        Invalid(Edited(r => Org(r, 1)["nodes"]![0]!["name"] = ""), "organisations[1].nodes[0].name is missing");
        Invalid(Edited(r => Org(r, 1)["nodes"]![0]!["address"] = ""), "organisations[1].nodes[0].address is missing");
        Invalid(Edited(r => Org(r, 1)["nodes"]![0]!["id"] = 70000), "id");
        Invalid(Edited(r => Org(r, 1)["clients"]![1]!["name"] = ""), "organisations[1].clients[1].name is missing");
        Invalid(Edited(r => Org(r, 1)["nodes"]!.AsArray().Add(null)), "organisations[1].nodes[1]");
        Invalid(Edited(r => r["organisations"]!.AsArray().Add(null)), "organisations[6]");
    }
}
