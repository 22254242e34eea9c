using Chain.Ai.Federated.Ledger;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ai.Tests.Federated;

public sealed class FederatedPayloadTests
{
    [Property(MaxTest = 100)]
    public Property Payloads_round_trip(NonEmptyArray<NormalFloat> values, PositiveInt examples, bool model) =>
        Prop.ToProperty(Check([.. values.Get.Select(v => (float)Math.Clamp(v.Get, -1e30, 1e30))], examples.Get, model));

    private static bool Check(float[] values, int examples, bool model)
    {
        var p = new FederatedPayload(model ? PayloadKind.Model : PayloadKind.Update, "round-7", "hospital-ä", examples, values);
        var back = FederatedPayload.Decode(p.Encode());
        return back.Kind == p.Kind && back.Round == p.Round && back.Sender == p.Sender && back.Examples == examples && back.Values.SequenceEqual(values);
    }

    [Fact]
    public void Malformed_payloads_are_refused_with_a_typed_error()
    {
        var good = new FederatedPayload(PayloadKind.Update, "r1", "hospital-a", 10, [1f, 2f, 3f]).Encode();
        Assert.Contains("magic", Refused([]));
        Assert.Contains("magic", Refused([.. "XXXX"u8.ToArray(), .. good[4..]]));
        Assert.Contains("kind", Refused([.. good[..4], 9, .. good[5..]]));
        Assert.Contains("header says", Refused(good[..^1]));
        Assert.Contains("header says", Refused([.. good, 0]));
        var nan = (byte[])good.Clone();
        BitConverter.GetBytes(float.NaN).CopyTo(nan, good.Length - 4);
        Assert.Contains("not finite", Refused(nan));
        var badName = (byte[])good.Clone();
        badName[5] = 0xFF; // round length 0x..FF: longer than allowed
        Assert.Contains("round length", Refused(badName));
        var count = (byte[])good.Clone();
        BitConverter.GetBytes(-1).CopyTo(count, good.Length - 16);
        Assert.Contains("out of range", Refused(count));

        Assert.Throws<FederatedPayloadException>(() => new FederatedPayload(PayloadKind.Update, "", "a", 1, [1f]).Encode());
        Assert.Throws<FederatedPayloadException>(() => new FederatedPayload(PayloadKind.Update, "r", "a", 1, []).Encode());
        Assert.Throws<FederatedPayloadException>(() => new FederatedPayload(PayloadKind.Update, "r", "a", 1, [float.PositiveInfinity]).Encode());
        Assert.Throws<FederatedPayloadException>(() => new FederatedPayload(PayloadKind.Update, "r", "a", -1, [1f]).Encode());
    }

    [Fact]
    public void A_payload_is_checked_against_what_the_ledger_says_it_is()
    {
        var bytes = new FederatedPayload(PayloadKind.Update, "r1", "hospital-b", 10, [1f, 2f]).Encode();
        Assert.Equal(2, FederatedPayload.DecodeExpected(bytes, PayloadKind.Update, "r1", "hospital-b", 2).Values.Length);
        Assert.Contains("round r1, not r2", Assert.Throws<FederatedPayloadException>(() => FederatedPayload.DecodeExpected(bytes, PayloadKind.Update, "r2", "hospital-b", 2)).Message.Replace("belongs to ", ""));
        Assert.Contains("not hospital-c", Assert.Throws<FederatedPayloadException>(() => FederatedPayload.DecodeExpected(bytes, PayloadKind.Update, "r1", "hospital-c", 2)).Message);
        Assert.Contains("model has 3", Assert.Throws<FederatedPayloadException>(() => FederatedPayload.DecodeExpected(bytes, PayloadKind.Update, "r1", "hospital-b", 3)).Message);
        Assert.Contains("expected a Model", Assert.Throws<FederatedPayloadException>(() => FederatedPayload.DecodeExpected(bytes, PayloadKind.Model, "r1", null, 2)).Message);
    }

    private static string Refused(byte[] bytes) => Assert.Throws<FederatedPayloadException>(() => FederatedPayload.Decode(bytes)).Message;
}
