namespace Chain.Cli.Tests;

/// <summary>How ledger text and bytes are shown: never terminal control, hex when not printable UTF-8.</summary>
public sealed class OutputTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("two\nlines", "two\\nlines")]
    [InlineData("\u001b[31mred", "?[31mred")]
    [InlineData("abc\u202edef", "abc?def")]
    public void Printable_escapes_control_and_format_characters(string text, string expected) => Assert.Equal(expected, Output.Printable(text));

    [Fact]
    public void Bytes_are_text_when_printable_utf8_else_hex()
    {
        Assert.Equal(("héllo", "utf8"), Output.Bytes("héllo"u8));
        Assert.Equal(("00ff10", "hex"), Output.Bytes([0x00, 0xff, 0x10]));
        Assert.Equal(("c328", "hex"), Output.Bytes([0xc3, 0x28])); // invalid UTF-8
    }

    [Theory]
    [InlineData(0L, "1970-01-01T00:00:00.000Z")]
    [InlineData(1_700_000_001_000L, "2023-11-14T22:13:21.000Z")]
    [InlineData(long.MaxValue, "9223372036854775807")]
    public void Time_is_utc_iso_or_the_raw_number(long ms, string expected) => Assert.Equal(expected, Output.Time(ms));

    [Theory]
    [InlineData("2023-11-14T22:13:21Z", 1_700_000_001_000L)]
    [InlineData("2023-11-14T23:13:21+01:00", 1_700_000_001_000L)]
    [InlineData("2023-11-14T22:13:21", 1_700_000_001_000L)]
    [InlineData("1700000001000", 1_700_000_001_000L)]
    public void Times_parse_as_iso_or_unix_ms(string text, long expected) => Assert.Equal(expected, Args.Time(text, "--since"));
}
