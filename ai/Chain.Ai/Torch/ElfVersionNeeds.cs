#nullable enable
// This file is compiled twice: into Chain.Ai (CHAIN_AI_LIBRARY defined), where tests and `chain-ai doctor` read the
// version needs of libLibTorchSharp.so, and by MSBuild's RoslynCodeTaskFactory from PatchLibTorchSharp.targets, which
// adds the PatchLibTorchSharp task below and compiles against netstandard2.0: keep it to APIs that both have.
#if !CHAIN_AI_LIBRARY
using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.Build.Framework;
#endif

namespace Chain.Ai.Torch;

/// <summary>One version a shared library requires from another: <c>File</c> (e.g. libstdc++.so.6) at <c>Version</c>.</summary>
public sealed class VersionNeed
{
    public VersionNeed(string file, string version, int index)
    {
        File = file;
        Version = version;
        Index = index;
    }

    /// <summary>The library the version comes from (vn_file).</summary>
    public string File { get; }

    /// <summary>The version name (vna_name), e.g. GLIBCXX_3.4.30.</summary>
    public string Version { get; }

    /// <summary>The version index symbols use in .gnu.version (vna_other).</summary>
    public int Index { get; }

    public override string ToString() => File + " " + Version + " (index " + Index + ")";
}

/// <summary>
/// Reads and edits the version needs (.gnu.version_r) of an ELF64 little-endian shared library. TorchSharp 0.107.0's
/// libLibTorchSharp.so requires GLIBCXX_3.4.32 (GCC 13's libstdc++) only through <c>_ZSt21ios_base_library_initv</c>,
/// a marker symbol that nothing relocates against; Debian 12's libstdc++ stops at GLIBCXX_3.4.30, so the dynamic loader
/// refuses the library. <see cref="RemoveVersionNeed"/> makes the symbols bound to that version unversioned
/// (VER_NDX_GLOBAL) and unlinks the version from the needs list; nothing else in the file changes, not even its size.
/// </summary>
public static class ElfVersionNeeds
{
    /// <summary>The version TorchSharp 0.107.0's libLibTorchSharp.so needs only for a marker symbol.</summary>
    public const string GlibcxxMarkerVersion = "GLIBCXX_3.4.32";

    private const uint ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
    private const ushort VerNdxGlobal = 1;

    /// <summary>Every version <paramref name="elf"/> needs, in table order.</summary>
    /// <exception cref="InvalidDataException">Not an ELF64 little-endian file, or a malformed table.</exception>
    public static List<VersionNeed> Read(byte[] elf)
    {
        var needs = new List<VersionNeed>();
        var layout = Layout.Parse(elf);
        if (layout.Verneed < 0) return needs;
        foreach (var entry in layout.Entries(elf))
        {
            var file = layout.DynStr(elf, U32(elf, entry.Offset + 4));
            foreach (var aux in entry.Aux)
                needs.Add(new VersionNeed(file, layout.DynStr(elf, U32(elf, aux.Offset + 8)), U16(elf, aux.Offset + 6)));
        }
        return needs;
    }

    /// <summary>
    /// Removes the need for <paramref name="version"/> in place: every .gnu.version entry with its index becomes
    /// VER_NDX_GLOBAL (1), and its vernaux entry is unlinked from its verneed's list (vn_cnt decremented). Returns the
    /// number of symbols made unversioned, or -1 when <paramref name="version"/> is not needed (nothing changed), which
    /// makes a second call a no-op.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an ELF64 little-endian file, a malformed table, or the version is the
    /// only one its library is needed for (removing the whole verneed entry is not supported).</exception>
    public static int RemoveVersionNeed(byte[] elf, string version)
    {
        var layout = Layout.Parse(elf);
        if (layout.Verneed < 0) return -1;
        foreach (var entry in layout.Entries(elf))
        {
            for (var i = 0; i < entry.Aux.Count; i++)
            {
                var aux = entry.Aux[i];
                if (layout.DynStr(elf, U32(elf, aux.Offset + 8)) != version) continue;
                if (entry.Aux.Count == 1)
                    throw new InvalidDataException(version + " is the only version needed from its library; not supported");

                var index = U16(elf, aux.Offset + 6);
                var changed = 0;
                if (layout.Versym >= 0)
                {
                    for (long at = layout.VersymOffset; at + 2 <= layout.VersymOffset + layout.VersymSize; at += 2)
                    {
                        if ((U16(elf, at) & 0x7fff) != index) continue;
                        W16(elf, at, VerNdxGlobal);
                        changed++;
                    }
                }

                // Unlink: the list is vn_aux (from the verneed) then vna_next (from each vernaux), all relative offsets.
                var next = U32(elf, aux.Offset + 12);
                if (i == 0)
                {
                    W32(elf, entry.Offset + 8, U32(elf, entry.Offset + 8) + next);
                }
                else
                {
                    var previous = entry.Aux[i - 1].Offset;
                    W32(elf, previous + 12, next == 0 ? 0 : U32(elf, previous + 12) + next);
                }
                W16(elf, entry.Offset + 2, (ushort)(entry.Aux.Count - 1));
                return changed;
            }
        }
        return -1;
    }

    /// <summary>
    /// Removes the need for <paramref name="version"/> from the file at <paramref name="path"/>. Writes a new file beside
    /// it and renames it over the old one, so a hard link to the original (a package cache) is never written through;
    /// keeps the original's last-write time, so an incremental copy from the package does not see a changed file.
    /// Returns what <see cref="RemoveVersionNeed"/> returns (-1: not needed, the file is untouched).
    /// </summary>
    public static int PatchFile(string path, string version)
    {
        var elf = System.IO.File.ReadAllBytes(path);
        var changed = RemoveVersionNeed(elf, version);
        if (changed < 0) return changed;
        var written = System.IO.File.GetLastWriteTimeUtc(path);
        var temporary = path + ".patching";
        System.IO.File.WriteAllBytes(temporary, elf);
        System.IO.File.SetLastWriteTimeUtc(temporary, written);
        System.IO.File.Replace(temporary, path, null);
        return changed;
    }

    // Little-endian reads and writes; unchecked, since Chain.Ai builds with overflow checks on.
    private static ushort U16(byte[] b, long at) => unchecked((ushort)(b[at] | (b[at + 1] << 8)));

    private static uint U32(byte[] b, long at) =>
        (uint)b[at] | ((uint)b[at + 1] << 8) | ((uint)b[at + 2] << 16) | ((uint)b[at + 3] << 24);

    /// <summary>A 64-bit file offset or size; one beyond what a byte array can hold is malformed.</summary>
    private static long Offset(byte[] b, long at)
    {
        var value = U32(b, at) | ((ulong)U32(b, at + 4) << 32);
        if (value > int.MaxValue) throw new InvalidDataException("offset or size out of range");
        return (long)value;
    }

    private static void W16(byte[] b, long at, ushort value)
    {
        b[at] = unchecked((byte)value);
        b[at + 1] = unchecked((byte)(value >> 8));
    }

    private static void W32(byte[] b, long at, uint value)
    {
        for (var i = 0; i < 4; i++) b[at + i] = unchecked((byte)(value >> (8 * i)));
    }

    private sealed class AuxEntry
    {
        public AuxEntry(long offset) => Offset = offset;

        public long Offset { get; }
    }

    private sealed class NeedEntry
    {
        public NeedEntry(long offset) => Offset = offset;

        public long Offset { get; }

        public List<AuxEntry> Aux { get; } = new List<AuxEntry>();
    }

    /// <summary>Where the three sections are: .gnu.version_r, its string table, .gnu.version.</summary>
    private sealed class Layout
    {
        public int Verneed { get; private set; } = -1;

        public long VerneedOffset { get; private set; }

        public long VerneedSize { get; private set; }

        public long VerneedCount { get; private set; }

        public long DynStrOffset { get; private set; }

        public long DynStrSize { get; private set; }

        public int Versym { get; private set; } = -1;

        public long VersymOffset { get; private set; }

        public long VersymSize { get; private set; }

        public static Layout Parse(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
            var shoff = Offset(elf, 40);
            var shentsize = U16(elf, 58);
            var shnum = U16(elf, 60);
            if (shentsize < 64 || shoff <= 0 || shoff + (long)shentsize * shnum > elf.Length)
                throw new InvalidDataException("section header table out of range");

            var layout = new Layout();
            for (var i = 0; i < shnum; i++)
            {
                var sh = shoff + (long)i * shentsize;
                var type = U32(elf, sh + 4);
                if (type != ShtGnuVerneed && type != ShtGnuVersym) continue;
                var offset = Offset(elf, sh + 24);
                var size = Offset(elf, sh + 32);
                if (offset < 0 || size < 0 || offset + size > elf.Length)
                    throw new InvalidDataException("section " + i + " out of range");
                if (type == ShtGnuVersym)
                {
                    layout.Versym = i;
                    layout.VersymOffset = offset;
                    layout.VersymSize = size;
                    continue;
                }
                layout.Verneed = i;
                layout.VerneedOffset = offset;
                layout.VerneedSize = size;
                layout.VerneedCount = U32(elf, sh + 44);
                var link = U32(elf, sh + 40);
                if (link >= shnum) throw new InvalidDataException("version needs link to no string table");
                var strtab = shoff + (long)link * shentsize;
                layout.DynStrOffset = Offset(elf, strtab + 24);
                layout.DynStrSize = Offset(elf, strtab + 32);
                if (layout.DynStrOffset + layout.DynStrSize > elf.Length)
                    throw new InvalidDataException("string table out of range");
            }
            return layout;
        }

        /// <summary>The verneed entries with their vernaux lists, following vn_next, vn_aux and vna_next.</summary>
        public List<NeedEntry> Entries(byte[] elf)
        {
            var entries = new List<NeedEntry>();
            var end = VerneedOffset + VerneedSize;
            var at = VerneedOffset;
            for (long n = 0; n < VerneedCount; n++)
            {
                if (at < VerneedOffset || at + 16 > end) throw new InvalidDataException("verneed entry out of range");
                var entry = new NeedEntry(at);
                var aux = at + U32(elf, at + 8);
                for (var k = 0; k < U16(elf, at + 2); k++)
                {
                    if (aux < VerneedOffset || aux + 16 > end) throw new InvalidDataException("vernaux entry out of range");
                    entry.Aux.Add(new AuxEntry(aux));
                    var next = U32(elf, aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                entries.Add(entry);
                var following = U32(elf, at + 12);
                if (following == 0) break;
                at += following;
            }
            return entries;
        }

        public string DynStr(byte[] elf, uint offset)
        {
            if (offset >= DynStrSize) throw new InvalidDataException("string offset out of range");
            var start = DynStrOffset + offset;
            var end = start;
            while (end < DynStrOffset + DynStrSize && elf[end] != 0) end++;
            return System.Text.Encoding.ASCII.GetString(elf, (int)start, (int)(end - start));
        }
    }
}

#if !CHAIN_AI_LIBRARY
/// <summary>
/// The MSBuild task: removes the GLIBCXX_3.4.32 need from each given libLibTorchSharp.so (a copy in the build or
/// publish output, never the package cache's). Idempotent: a file that no longer needs it is left as it is.
/// </summary>
public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
{
    [Required]
    public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            var path = item.GetMetadata("FullPath");
            try
            {
                var changed = ElfVersionNeeds.PatchFile(path, ElfVersionNeeds.GlibcxxMarkerVersion);
                if (changed >= 0)
                {
                    Log.LogMessage(MessageImportance.High,
                        "PatchLibTorchSharp: removed the " + ElfVersionNeeds.GlibcxxMarkerVersion + " requirement from " +
                        path + " (" + changed + " marker symbol(s) made unversioned)");
                }
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
            {
                Log.LogError("PatchLibTorchSharp: cannot patch " + path + ": " + e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif
