using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace Chain.Api.Tls;

/// <summary>A consortium organisation's certificate authority, trusted by every node and client.</summary>
public sealed record TrustedCa(string Organisation, X509Certificate2 Certificate);

/// <summary>Who presented a certificate: the organisation whose CA issued it and the certificate's common name.</summary>
public sealed record TlsIdentity(string Organisation, string CommonName);

/// <summary>
/// Mutual TLS for the consortium: each organisation runs its own CA; nodes and clients hold certificates from
/// their organisation's CA. A peer's certificate is accepted when it chains to exactly one trusted CA (no system
/// roots, no revocation service on a closed network); its identity is that CA's organisation plus its common
/// name. Host names are not checked: identity comes from the CA and the name, so a node may sit behind a proxy.
/// </summary>
public sealed class MutualTls
{
    private readonly IReadOnlyList<TrustedCa> _cas;

    public MutualTls(X509Certificate2 certificate, IReadOnlyList<TrustedCa> cas)
    {
        if (!certificate.HasPrivateKey) throw new ArgumentException("the certificate has no private key", nameof(certificate));
        if (cas.Count == 0) throw new ArgumentException("at least one trusted CA is needed", nameof(cas));
        Certificate = certificate;
        _cas = cas;
    }

    /// <summary>This party's own certificate (with its private key).</summary>
    public X509Certificate2 Certificate { get; }

    public IReadOnlyList<TrustedCa> Cas => _cas;

    /// <summary>Loads a PEM certificate and key, and the trusted CA certificates (PEM), failing with a clear message.</summary>
    public static MutualTls Load(string certificatePath, string keyPath, IEnumerable<(string Organisation, string Path)> cas)
    {
        X509Certificate2 cert;
        try
        {
            cert = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new TlsConfigurationException($"cannot load certificate {certificatePath} with key {keyPath}: {e.Message}", e);
        }
        var trusted = new List<TrustedCa>();
        foreach (var (org, path) in cas)
        {
            try
            {
                trusted.Add(new TrustedCa(org, X509CertificateLoader.LoadCertificateFromFile(path)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new TlsConfigurationException($"cannot load the CA certificate of {org} from {path}: {e.Message}", e);
            }
        }
        if (trusted.Count == 0) throw new TlsConfigurationException("no trusted CA certificates are configured");
        return new MutualTls(cert, trusted);
    }

    /// <summary>The identity behind <paramref name="presented"/>, or null when it does not chain to a trusted CA.</summary>
    public TlsIdentity? Identify(X509Certificate2? presented)
    {
        if (presented is null) return null;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var ca in _cas) chain.ChainPolicy.CustomTrustStore.Add(ca.Certificate);
        if (!chain.Build(presented) || chain.ChainElements.Count < 2) return null;
        var root = chain.ChainElements[^1].Certificate;
        var issuer = _cas.FirstOrDefault(ca => ca.Certificate.RawDataMemory.Span.SequenceEqual(root.RawDataMemory.Span));
        if (issuer is null) return null;
        var name = presented.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return string.IsNullOrEmpty(name) ? null : new TlsIdentity(issuer.Organisation, name);
    }

    /// <summary>Client-side TLS options: present our certificate, accept a server whose certificate chains to a trusted CA.</summary>
    public SslClientAuthenticationOptions ClientOptions(Func<TlsIdentity, bool>? acceptServer = null) => new()
    {
        ClientCertificates = [Certificate],
        RemoteCertificateValidationCallback = (_, cert, _, _) =>
            cert is X509Certificate2 c && Identify(c) is { } id && (acceptServer?.Invoke(id) ?? true),
    };

    /// <summary>A gRPC channel to <paramref name="address"/> ("host:port") over mutual TLS.</summary>
    public GrpcChannel CreateChannel(string address, Func<TlsIdentity, bool>? acceptServer = null, TimeSpan? connectTimeout = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = ClientOptions(acceptServer),
            ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(5),
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        };
        return GrpcChannel.ForAddress("https://" + address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            MaxReceiveMessageSize = 64 << 20,
            MaxSendMessageSize = 64 << 20,
        });
    }
}

/// <summary>A TLS file or setting is missing or wrong.</summary>
public sealed class TlsConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
