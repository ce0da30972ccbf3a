//! The HTTPS client every SDK call goes through: HTTP/1.1 over rustls (ring), trusting AWS's root CAs only.
//!
//! The SDK's own client (aws-smithy-http-client) always links HTTP/2, proxy support and the system certificate
//! store. DynamoDB, SNS and SES are called over HTTP/1.1, one call at a time per function instance, so a function
//! needs none of them: this client is the same hyper connection pool and rustls, and about 0.7 MB less per function.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

/// The root CAs of Amazon Trust Services (Amazon Root CA 1 to 4, and Starfield Services Root CA G2, which
/// cross-signs them): every AWS endpoint chains to one of them.
const AMAZON_TRUST_SERVICES: &str = include_str!("../../certs/amazon-trust-services.pem");

#[derive(Debug, thiserror::Error)]
pub enum HttpsClientError {
    #[error("the trusted root certificates: {0}")]
    RootCertificates(String),
    #[error("the TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// An HTTP/1.1 client for the SDK, with one pool of kept-alive connections. `http://` endpoints (the local emulator)
/// are spoken to in clear; `https://` ones are verified against `AMAZON_TRUST_SERVICES`.
#[derive(Clone, Debug)]
pub struct Http1Client {
    client: Client<HttpsConnector<TcpConnector>, SdkBody>,
}

impl Http1Client {
    /// A client whose connections must be established within `connect_timeout`. The SDK's other timeouts (an
    /// attempt's, an operation's) are enforced by the SDK around each call.
    pub fn new(connect_timeout: Duration) -> Result<Http1Client, HttpsClientError> {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES.as_bytes()) {
            let certificate = certificate
                .map_err(|error| HttpsClientError::RootCertificates(error.to_string()))?;
            roots
                .add(certificate)
                .map_err(|error| HttpsClientError::RootCertificates(error.to_string()))?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            // Without a timer the pool never expires an idle connection.
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(Http1Client { client })
    }
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for Http1Client {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())))
            }
        };
        let response = self.client.request(request);
        HttpConnectorFuture::new(async move {
            match response.await {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(connector_error(error)),
            }
        })
    }
}

/// Classifies a failed call as the SDK's retry strategy needs: a timeout or an I/O failure (a refused, reset or
/// closed connection) is retried; a request the client could not send is the caller's error.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let timed_out = chain(&error).any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || cause
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
    });
    if timed_out {
        return ConnectorError::timeout(error.into());
    }
    let hyper_error = chain(&error).find_map(|cause| cause.downcast_ref::<hyper::Error>());
    if let Some(hyper_error) = hyper_error {
        if hyper_error.is_user() {
            return ConnectorError::user(error.into());
        }
        if hyper_error.is_incomplete_message() {
            return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
        }
    }
    let broken_connection = error.is_connect()
        || hyper_error.is_some_and(|cause| cause.is_closed() || cause.is_canceled())
        || chain(&error).any(|cause| cause.is::<std::io::Error>());
    if broken_connection {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&cause| cause.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_builds_with_amazons_five_roots() {
        let roots = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES.as_bytes())
            .filter(Result::is_ok)
            .count();
        assert_eq!(roots, 5);
        assert!(Http1Client::new(Duration::from_secs(1)).is_ok());
    }
}
