using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Chain.Testnet.Cluster;

/// <summary>
/// One organisation's certificate authority for the testnet: a self-signed ECDSA P-256 CA (10 years) that issues
/// node and client certificates (P-256, 5 years) carrying the organisation and a common name.
/// </summary>
internal sealed class OrganisationCa : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private OrganisationCa(string organisation, X509Certificate2 certificate)
    {
        Organisation = organisation;
        Certificate = certificate;
    }

    public string Organisation { get; }

    /// <summary>The CA certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public static OrganisationCa Create(string organisation, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Name($"{organisation} testnet CA", organisation), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return new OrganisationCa(organisation, request.CreateSelfSigned(now.AddHours(-1), now.AddYears(10)));
    }

    /// <summary>Loads a CA that init wrote (certificate and private key, PEM).</summary>
    public static OrganisationCa Load(string organisation, string certificatePath, string keyPath) =>
        new(organisation, X509Certificate2.CreateFromPemFile(certificatePath, keyPath));

    /// <summary>
    /// Issues a certificate for <paramref name="commonName"/>. Nodes get server and client authentication and the
    /// loopback names (IP 127.0.0.1, DNS localhost); clients get client authentication only.
    /// </summary>
    public X509Certificate2 Issue(string commonName, bool node, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Name(commonName, Organisation), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var usages = node ? new OidCollection { ServerAuth, ClientAuth } : new OidCollection { ClientAuth };
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        if (node)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var notAfter = now.AddYears(5) < Certificate.NotAfter ? now.AddYears(5) : new DateTimeOffset(Certificate.NotAfter);
        using var issued = request.Create(Certificate, now.AddHours(-1), notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the CA certificate and its private key (the key owner-only).</summary>
    public void Save(string certificatePath, string keyPath) => Pem.Save(Certificate, certificatePath, keyPath);

    public void Dispose() => Certificate.Dispose();

    private static X500DistinguishedName Name(string commonName, string organisation)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddOrganizationName(organisation);
        builder.AddCommonName(commonName);
        return builder.Build();
    }
}

/// <summary>PEM files: certificates world-readable, private keys (PKCS#8) created owner-only (0600).</summary>
internal static class Pem
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Save(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        using var key = certificate.GetECDsaPrivateKey()
            ?? throw new InvalidOperationException("the certificate has no ECDSA private key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        WriteOwnerOnly(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>Creates <paramref name="path"/> (which must not exist) readable and writable only by its owner.</summary>
    public static void WriteOwnerOnly(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
