using System.Reflection;
using Chain.Ai.Torch;

namespace Chain.Ai.Tests;

/// <summary>
/// The build's patch of libLibTorchSharp.so (PatchLibTorchSharp.targets): the copy in this test's output needs no
/// GLIBCXX_3.4.32, the package cache's copy is untouched, and the table edit itself is right wherever the version sits.
/// </summary>
public class LibTorchSharpPatchTests
{
    private const string Marker = ElfVersionNeeds.GlibcxxMarkerVersion;

    private static string PackageCopy()
    {
        var root = typeof(LibTorchSharpPatchTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "NuGetPackageRoot").Value!;
        return Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", TorchRuntime.NativeLibraryName);
    }

    [Fact]
    public void Output_copy_is_linux_x64_only_and_needs_no_GLIBCXX_3_4_32()
    {
        var path = TorchRuntime.NativeLibraryPath();
        Assert.True(path is not null, $"{TorchRuntime.NativeLibraryName} is not in {AppContext.BaseDirectory}");
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, TorchRuntime.NativeLibraryName), path);
        Assert.False(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "runtimes")),
            "the output carries a runtimes/ folder: natives of other platforms are copied (RuntimeIdentifier not linux-x64?)");
        Assert.NotEmpty(Directory.GetFiles(AppContext.BaseDirectory, "libtorch*.so*"));
        Assert.Empty(Directory.GetFiles(AppContext.BaseDirectory, "*.dylib"));
        foreach (var other in new[] { "LibTorchSharp.dll", "torch_cpu.dll", "c10.dll", "libLibTorchSharp.dylib" })
            Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, other)), $"{other} (another platform's native) is in the output");

        var needs = ElfVersionNeeds.Read(File.ReadAllBytes(path));
        Assert.DoesNotContain(needs, n => n.Version == Marker);
        // The reader does read the table: the library still needs other libstdc++ versions.
        Assert.Contains(needs, n => n.File == "libstdc++.so.6" && n.Version == "GLIBCXX_3.4");
    }

    [Fact]
    public void Package_cache_copy_still_needs_it_and_patches_in_memory()
    {
        var path = PackageCopy();
        Assert.True(File.Exists(path), $"not found: {path}");
        var elf = File.ReadAllBytes(path);
        var before = ElfVersionNeeds.Read(elf);
        Assert.True(before.Exists(n => n.Version == Marker),
            $"the package's {TorchRuntime.NativeLibraryName} no longer needs {Marker}: the patch may go (README, AI defense plugin)");

        var length = elf.Length;
        Assert.True(ElfVersionNeeds.RemoveVersionNeed(elf, Marker) >= 1);
        Assert.Equal(length, elf.Length);
        var after = ElfVersionNeeds.Read(elf);
        Assert.Equal(before.Where(n => n.Version != Marker).Select(n => n.ToString()), after.Select(n => n.ToString()));
        Assert.Equal(-1, ElfVersionNeeds.RemoveVersionNeed(elf, Marker));
        Assert.Equal(elf, File.ReadAllBytes(TorchRuntime.NativeLibraryPath()!));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Remove_unlinks_the_version_wherever_it_is_in_the_list(int position)
    {
        string[] versions = ["GLIBCXX_3.4", "GLIBCXX_3.4.30", "CXXABI_1.3"];
        versions[position] = Marker;
        // Indexes 2, 3, 4 for the three versions; symbols 0..6 use 0, 1, 2, 3, 4, and the marker's index again.
        var markerIndex = (ushort)(2 + position);
        ushort[] versym = [0, 1, 2, 3, 4, (ushort)(markerIndex | 0x8000), 1];
        var elf = SyntheticElf.Build("libstdc++.so.6", versions, versym);

        Assert.Equal(3, ElfVersionNeeds.Read(elf).Count);
        Assert.Equal(2, ElfVersionNeeds.RemoveVersionNeed(elf, Marker));

        var after = ElfVersionNeeds.Read(elf);
        Assert.Equal(versions.Where(v => v != Marker), after.Select(n => n.Version));
        Assert.All(after, n => Assert.Equal("libstdc++.so.6", n.File));
        var expected = versym.Select(v => (v & 0x7fff) == markerIndex ? (ushort)1 : v).ToArray();
        Assert.Equal(expected, SyntheticElf.Versym(elf));

        var patched = (byte[])elf.Clone();
        Assert.Equal(-1, ElfVersionNeeds.RemoveVersionNeed(elf, Marker));
        Assert.Equal(patched, elf);
    }

    [Fact]
    public void Remove_refuses_the_only_version_of_a_library_and_rejects_non_elf()
    {
        var elf = SyntheticElf.Build("libstdc++.so.6", [Marker], [0, 1, 2]);
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.RemoveVersionNeed(elf, Marker));
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(new byte[100]));
    }

    [Fact]
    public void PatchFile_replaces_the_file_and_leaves_a_hard_link_alone()
    {
        var dir = Directory.CreateTempSubdirectory("chain-ai-patch-");
        try
        {
            var original = Path.Combine(dir.FullName, "original.so");
            var link = Path.Combine(dir.FullName, "link.so");
            var bytes = SyntheticElf.Build("libstdc++.so.6", ["GLIBCXX_3.4", Marker], [0, 1, 2, 3]);
            File.WriteAllBytes(original, bytes);
            var written = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(original, written);
            using (var ln = System.Diagnostics.Process.Start("ln", [original, link]))
            {
                ln.WaitForExit();
                Assert.Equal(0, ln.ExitCode);
            }

            Assert.Equal(1, ElfVersionNeeds.PatchFile(link, Marker));
            Assert.Equal(bytes, File.ReadAllBytes(original));
            Assert.DoesNotContain(ElfVersionNeeds.Read(File.ReadAllBytes(link)), n => n.Version == Marker);
            Assert.Equal(written, File.GetLastWriteTimeUtc(link));
            Assert.Equal(-1, ElfVersionNeeds.PatchFile(link, Marker));
            Assert.Equal(2, Directory.GetFiles(dir.FullName).Length);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

/// <summary>A minimal ELF64 little-endian file with .dynstr, .gnu.version and one .gnu.version_r entry.</summary>
internal static class SyntheticElf
{
    private const int HeaderSize = 64, ShdrSize = 64;

    public static byte[] Build(string file, string[] versions, ushort[] versym)
    {
        using var strings = new MemoryStream();
        strings.WriteByte(0);
        int Add(string s)
        {
            var at = (int)strings.Length;
            var b = System.Text.Encoding.ASCII.GetBytes(s);
            strings.Write(b);
            strings.WriteByte(0);
            return at;
        }
        var fileName = Add(file);
        var names = versions.Select(Add).ToArray();
        var dynstr = strings.ToArray();

        var verneed = new byte[16 + 16 * versions.Length];
        W16(verneed, 0, 1);
        W16(verneed, 2, (ushort)versions.Length);
        W32(verneed, 4, (uint)fileName);
        W32(verneed, 8, 16);
        for (var i = 0; i < versions.Length; i++)
        {
            var at = 16 + 16 * i;
            W16(verneed, at + 6, (ushort)(2 + i));
            W32(verneed, at + 8, (uint)names[i]);
            W32(verneed, at + 12, i == versions.Length - 1 ? 0u : 16u);
        }
        var versymBytes = new byte[2 * versym.Length];
        for (var i = 0; i < versym.Length; i++) W16(versymBytes, 2 * i, versym[i]);

        var dynstrAt = HeaderSize;
        var versymAt = dynstrAt + dynstr.Length;
        var verneedAt = versymAt + versymBytes.Length;
        var shoff = verneedAt + verneed.Length;
        var elf = new byte[shoff + 4 * ShdrSize];
        elf[0] = 0x7f; elf[1] = (byte)'E'; elf[2] = (byte)'L'; elf[3] = (byte)'F'; elf[4] = 2; elf[5] = 1; elf[6] = 1;
        W16(elf, 16, 3);
        W16(elf, 18, 62);
        W64(elf, 40, (ulong)shoff);
        W16(elf, 52, HeaderSize);
        W16(elf, 58, ShdrSize);
        W16(elf, 60, 4);
        dynstr.CopyTo(elf, dynstrAt);
        versymBytes.CopyTo(elf, versymAt);
        verneed.CopyTo(elf, verneedAt);
        Section(elf, shoff + 1 * ShdrSize, 3, dynstrAt, dynstr.Length, link: 0, info: 0);
        Section(elf, shoff + 2 * ShdrSize, 0x6fffffff, versymAt, versymBytes.Length, link: 0, info: 0);
        Section(elf, shoff + 3 * ShdrSize, 0x6ffffffe, verneedAt, verneed.Length, link: 1, info: 1);
        return elf;
    }

    public static ushort[] Versym(byte[] elf)
    {
        var shoff = (int)BitConverter.ToUInt64(elf, 40);
        var sh = shoff + 2 * ShdrSize;
        var at = (int)BitConverter.ToUInt64(elf, sh + 24);
        var size = (int)BitConverter.ToUInt64(elf, sh + 32);
        return Enumerable.Range(0, size / 2).Select(i => BitConverter.ToUInt16(elf, at + 2 * i)).ToArray();
    }

    private static void Section(byte[] elf, int at, uint type, int offset, int size, uint link, uint info)
    {
        W32(elf, at + 4, type);
        W64(elf, at + 24, (ulong)offset);
        W64(elf, at + 32, (ulong)size);
        W32(elf, at + 40, link);
        W32(elf, at + 44, info);
    }

    private static void W16(byte[] b, int at, ushort v) => BitConverter.TryWriteBytes(b.AsSpan(at), v);

    private static void W32(byte[] b, int at, uint v) => BitConverter.TryWriteBytes(b.AsSpan(at), v);

    private static void W64(byte[] b, int at, ulong v) => BitConverter.TryWriteBytes(b.AsSpan(at), v);
}
