using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using Chain.Ledger.Identity;

namespace Chain.Ledger.Tests.Identity;

/// <summary>Key files on disk, each test in its own temporary directory (deleted afterwards).</summary>
[UnsupportedOSPlatform("windows")]
public sealed class KeyFileTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("chain-keyfile-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    /// <summary>Writes <paramref name="text"/> with owner-only permissions, as a real key file would have.</summary>
    private string WriteOwnerOnly(string name, string text)
    {
        var path = PathOf(name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, OwnerOnly);
        return path;
    }

    /// <summary>
    /// A valid key file's JSON (for seed index <paramref name="index"/>), changed by <paramref name="edit"/>.
    /// </summary>
    private string EditedKeyFile(string name, Action<JsonObject> edit, int index = 1)
    {
        var original = PathOf(name + ".orig");
        using (var key = TestData.NewKey(index)) KeyFile.Write(original, "node-1", key);
        var doc = JsonNode.Parse(File.ReadAllText(original))!.AsObject();
        edit(doc);
        return WriteOwnerOnly(name, doc.ToJsonString());
    }

    private static void Invalid(string path, string messagePart) =>
        LedgerAssert.Throws(LedgerError.InvalidKeyFile, messagePart, () => KeyFile.Load(path).Dispose());

    [Fact]
    public void Generate_writes_an_owner_only_file_that_loads_as_the_same_key()
    {
        var path = PathOf("node.key");
        var publicKey = KeyFile.Generate(path, "node-0");
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        using var key = KeyFile.Load(path);
        Assert.Equal(publicKey, key.PublicKey);
        var doc = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal("node-0", doc["name"]!.GetValue<string>());
        Assert.Equal(publicKey.ToString(), doc["publicKey"]!.GetValue<string>());
    }

    [Fact]
    public void Write_then_Load_keeps_the_seed()
    {
        var path = PathOf("client.key");
        using (var original = TestData.NewKey(5)) KeyFile.Write(path, "client", original);
        using var loaded = KeyFile.Load(path);
        Assert.Equal(TestData.Seed(5), loaded.ExportSeed());
        Assert.Equal(TestData.Key(5).PublicKey, loaded.PublicKey);
    }

    [Fact]
    public void Generate_never_overwrites_an_existing_file()
    {
        var path = PathOf("node.key");
        var first = KeyFile.Generate(path, "node-0");
        LedgerAssert.Throws(LedgerError.InvalidKeyFile, "cannot write", () => KeyFile.Generate(path, "node-0"));
        using var key = KeyFile.Load(path);
        Assert.Equal(first, key.PublicKey);
    }

    [Theory]
    [InlineData(OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead)] // 0644
    [InlineData(OwnerOnly | UnixFileMode.GroupRead)]                          // 0640
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherWrite)]             // 0402
    public void A_file_others_can_read_or_write_is_refused(UnixFileMode mode)
    {
        var path = PathOf("node.key");
        KeyFile.Generate(path, "node-0");
        File.SetUnixFileMode(path, mode);
        Invalid(path, "chmod 600");
    }

    [Fact]
    public void Owner_only_modes_load()
    {
        var path = PathOf("node.key");
        KeyFile.Generate(path, "node-0");
        foreach (var mode in new[] { UnixFileMode.UserRead, OwnerOnly | UnixFileMode.UserExecute })
        {
            File.SetUnixFileMode(path, mode);
            KeyFile.Load(path).Dispose();
        }
    }

    [Fact]
    public void A_missing_file_is_refused() => Invalid(PathOf("absent.key"), "cannot read");

    [Theory]
    [InlineData("", "not a key file")]
    [InlineData("not json", "not a key file")]
    [InlineData("{", "not a key file")]
    [InlineData("[]", "not a key file")]
    [InlineData("{}", "missing required properties")]
    [InlineData("null", "not a key file")]
    public void Bad_JSON_is_refused(string text, string messagePart) =>
        Invalid(WriteOwnerOnly("bad.key", text), messagePart);

    [Fact]
    public void A_seed_of_the_wrong_length_is_refused()
    {
        var seed = TestData.Seed(1);
        Invalid(EditedKeyFile("short.key", d => d["seed"] = Convert.ToHexStringLower(seed[..31])),
            "seed must be 32 bytes");
        Invalid(EditedKeyFile("long.key", d => d["seed"] = Convert.ToHexStringLower([.. seed, 0])),
            "seed must be 32 bytes");
        Invalid(EditedKeyFile("empty.key", d => d["seed"] = ""), "seed must be 32 bytes");
    }

    [Fact]
    public void A_seed_that_is_not_hex_is_refused()
    {
        Invalid(EditedKeyFile("odd.key", d => d["seed"] = "abc"), "seed is not hex");
        Invalid(EditedKeyFile("letters.key", d => d["seed"] = new string('z', 64)), "seed is not hex");
    }

    [Fact]
    public void A_public_key_that_does_not_match_the_seed_is_refused()
    {
        Invalid(EditedKeyFile("mismatch.key", d => d["publicKey"] = TestData.Key(2).PublicKey.ToString()),
            "public key does not match the seed");
        Invalid(EditedKeyFile("other-seed.key", d => d["seed"] = Convert.ToHexStringLower(TestData.Seed(2))),
            "public key does not match the seed");
        // Upper-case hex of the right key is the same key.
        var upper = EditedKeyFile("upper.key",
            d => d["publicKey"] = d["publicKey"]!.GetValue<string>().ToUpperInvariant());
        KeyFile.Load(upper).Dispose();
    }

    [Fact]
    public void Wrong_kind_and_missing_unknown_or_null_fields_are_refused()
    {
        Invalid(EditedKeyFile("kind.key", d => d["kind"] = "ssh-ed25519"), "kind must be");
        Invalid(EditedKeyFile("noseed.key", d => d.Remove("seed")), "seed");
        Invalid(EditedKeyFile("nullseed.key", d => d["seed"] = null), "seed");
        Invalid(EditedKeyFile("nokey.key", d => d.Remove("publicKey")), "publicKey");
        Invalid(EditedKeyFile("extra.key", d => d["comment"] = "x"), "comment");
    }
}
