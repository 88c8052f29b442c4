//! TLS for libpq's sslmode values: `require` encrypts without checking the certificate (unless a
//! root certificate is given, as libpq does), `verify-ca` checks the chain, `verify-full` the
//! chain and the host name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Makes ring the process's TLS provider (HTTP clients need one); calling it again is harmless.
pub fn ensure_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// libpq's sslmode values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The weaker mode tokio-postgres understands; certificate checks happen in our verifier.
    pub fn for_driver(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self {
            SslMode::Disable => Driver::Disable,
            SslMode::Allow | SslMode::Prefer => Driver::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Driver::Require,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read sslrootcert {path}: {reason}")]
    RootCert { path: PathBuf, reason: String },
    #[error("sslmode={0} needs a root certificate: set sslrootcert or PGSSLROOTCERT")]
    NoRootCert(&'static str),
}

/// The tokio-postgres connector for a mode. Only called when the mode may use TLS.
pub fn connector(mode: SslMode, root_cert: Option<&Path>) -> Result<MakeRustlsConnect, TlsError> {
    Ok(MakeRustlsConnect::new(client_config(mode, root_cert)?))
}

/// The rustls configuration for a mode, with the certificate checks that mode asks for.
pub fn client_config(mode: SslMode, root_cert: Option<&Path>) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let roots = match root_cert {
        Some(path) => Some(load_roots(path)?),
        None => None,
    };
    let check = match (mode, &roots) {
        (SslMode::VerifyFull, Some(_)) => Check::Full,
        (SslMode::VerifyCa | SslMode::Require, Some(_)) => Check::ChainOnly,
        (SslMode::VerifyFull, None) => return Err(TlsError::NoRootCert("verify-full")),
        (SslMode::VerifyCa, None) => return Err(TlsError::NoRootCert("verify-ca")),
        _ => Check::None,
    };
    let verifier = Verifier {
        check,
        webpki: roots.map(|r| {
            WebPkiServerVerifier::builder_with_provider(Arc::new(r), provider.clone())
                .build()
                .expect("a non-empty root store builds a verifier")
        }),
        provider,
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let fail = |reason: String| TlsError::RootCert {
        path: path.to_path_buf(),
        reason,
    };
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))? {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        store.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(fail("no certificate in the file".into()));
    }
    Ok(store)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Check {
    None,
    ChainOnly,
    Full,
}

#[derive(Debug)]
struct Verifier {
    check: Check,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::ChainOnly => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libpq_modes() {
        assert_eq!(SslMode::parse("verify-full"), Some(SslMode::VerifyFull));
        assert_eq!(SslMode::parse("allow"), Some(SslMode::Allow));
        assert_eq!(SslMode::parse("bogus"), None);
    }

    #[test]
    fn verifying_modes_need_a_root_certificate() {
        let Err(err) = connector(SslMode::VerifyFull, None) else {
            panic!("accepted")
        };
        assert!(err.to_string().contains("PGSSLROOTCERT"), "{err}");
        assert!(connector(SslMode::Require, None).is_ok());
    }

    #[test]
    fn an_unreadable_root_certificate_is_reported_with_its_path() {
        let Err(err) = connector(SslMode::VerifyCa, Some(Path::new("/nonexistent/root.crt")))
        else {
            panic!("accepted")
        };
        assert!(err.to_string().contains("/nonexistent/root.crt"), "{err}");
    }
}
