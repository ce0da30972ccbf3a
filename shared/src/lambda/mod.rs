//! Everything a function builds once at start-up (configuration, the AWS clients behind the ports), and the
//! runtime loop that hands each request to its handler.

pub mod config;
pub mod https;
pub mod telemetry;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use aws_types::SdkConfig;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::kms::KmsSigner;
use crate::adapters::messaging::SnsSesMessenger;
use crate::domain::token::CodeHasher;
use crate::doors::authorizer::jwt::TokenVerifier;
use crate::engine::App;
use config::{AwsSettings, Config};
use https::{Http1Client, HttpsClientError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Jwt(#[from] crate::doors::authorizer::jwt::KeyError),
    #[error("TOKEN_HASH_SECRET: {0}")]
    HashSecret(&'static str),
    #[error("the HTTPS client: {0}")]
    Http(#[from] HttpsClientError),
    #[error("the signing key's public keys could not be read")]
    SigningKeys(#[source] crate::domain::DomainError),
}

/// How long one SDK call may take in all, retries included.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one attempt of an SDK call may take; a send has only one.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a connection to an AWS endpoint may take to establish (`bounded_timeouts`).
const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Bounds every SDK call, so that a dead or hanging dependency is answered within the function's timeout: three
/// seconds in all, retries included. A request stops at its first failed call, except that a write whose answer is
/// lost is read back, and a failed send is followed by its compensating write (itself read back if its answer is
/// lost). An attempt may take two seconds: a shorter one gives up more often on a conditional write that did commit,
/// whose retry then fails its own condition and has to be read back.
pub fn bounded_retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// See `bounded_retries`.
pub fn bounded_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(SDK_CONNECT_TIMEOUT)
        .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
        .operation_timeout(SDK_OPERATION_TIMEOUT)
        .build()
}

/// The SDK's HTTPS client (`Http1Client`), with the bounded connect timeout. Built by hand rather than the SDK's
/// default, which also reads and parses the whole system certificate store (hundreds of certificates) on its first
/// request, which every cold start would pay for.
pub fn aws_http_client() -> Result<SharedHttpClient, HttpsClientError> {
    Ok(SharedHttpClient::new(Http1Client::new(
        SDK_CONNECT_TIMEOUT,
    )?))
}

/// The functions' SDK settings: `aws`'s region, credentials and endpoint, bounded calls, on `aws_http_client`.
pub fn aws_sdk_config(aws: &AwsSettings) -> Result<SdkConfig, HttpsClientError> {
    let credentials = Credentials::new(
        aws.access_key_id.clone(),
        aws.secret_access_key.clone(),
        aws.session_token.clone(),
        None,
        "environment",
    );
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(aws.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(bounded_retries())
        .timeout_config(bounded_timeouts())
        .http_client(aws_http_client()?);
    builder.set_sleep_impl(default_async_sleep());
    builder.set_endpoint_url(aws.endpoint_url.clone());
    Ok(builder.build())
}

impl App {
    /// The function's configuration from its environment, and the AWS adapters on one SDK configuration.
    pub fn from_env() -> Result<App, StartupError> {
        let config = Config::from_env()?;
        if let Some(secret) = &config.token_hash_secret {
            CodeHasher::new(secret.as_bytes()).map_err(StartupError::HashSecret)?;
        }
        Ok(App::on_aws(
            config,
            &aws_sdk_config(&AwsSettings::from_env()?)?,
        ))
    }

    /// `config` on the DynamoDB, SNS and SES adapters built from `sdk`.
    pub fn on_aws(config: Config, sdk: &SdkConfig) -> App {
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table_name.clone(),
        );
        let messenger = SnsSesMessenger::new(
            aws_sdk_sns::Client::new(sdk),
            aws_sdk_sesv2::Client::new(sdk),
            config.ses_sender.clone(),
        );
        let signer = config.signing_key_id.clone().map(|key_id| {
            Arc::new(KmsSigner::new(
                aws_sdk_kms::Client::new(sdk),
                key_id,
                config.previous_signing_key_id.clone(),
            ))
        });
        let app = App::new(config, Arc::new(store), Arc::new(messenger));
        match signer {
            Some(signer) => app.with_signer(signer),
            None => app,
        }
    }

    /// The authorizer's verifier: the issuer's public keys, fetched once per cold start, and any development key.
    pub async fn verifier(&self) -> Result<TokenVerifier, StartupError> {
        let public_keys = match &self.signer {
            Some(signer) => signer
                .public_keys()
                .await
                .map_err(StartupError::SigningKeys)?,
            None => Vec::new(),
        };
        Ok(TokenVerifier::new(&self.config.jwt, &public_keys)?)
    }
}

/// One HTTP answer in the making: a front door's handler, boxed.
pub type HttpAnswer<'a> =
    Pin<Box<dyn Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'a>>;

/// Runs an HTTP handler that always answers (errors are already rendered in the front door's format). Not generic
/// over the handler: the Lambda runtime, its HTTP client and the event conversions are compiled once, here, instead
/// of once in each of the functions' binaries.
pub async fn run_http<'a>(
    handler: &'a (dyn Fn(lambda_http::Request) -> HttpAnswer<'a> + Sync),
) -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(move |request| {
        let answer = handler(request);
        async move { Ok::<_, Infallible>(Answer(answer.await)) }
    }))
    .await
}

/// A front door's answer, handed to the runtime as it is. Given a `Response<Body>`, lambda_http would buffer every
/// body and decode it again by its content type's charset (bringing in encoding_rs, every legacy encoding's tables),
/// which our bodies, UTF-8 text or nothing, never need.
struct Answer(lambda_http::Response<lambda_http::Body>);

impl lambda_http::IntoResponse for Answer {
    fn into_response(
        self,
    ) -> Pin<Box<dyn Future<Output = lambda_http::Response<lambda_http::Body>> + Send>> {
        let (parts, body) = self.0.into_parts();
        // What lambda_http's own conversion makes of an empty body: empty text.
        let body = match body {
            lambda_http::Body::Empty => lambda_http::Body::Text(String::new()),
            body => body,
        };
        Box::pin(std::future::ready(lambda_http::Response::from_parts(
            parts, body,
        )))
    }
}

/// The whole `main` of an HTTP function: JSON logs, configuration and AWS clients built once at start-up, then the
/// handler for every request, as `user_token_domain::http_function!(user_token_domain::doors::velo::get_user);`. Lambda
/// sends one request at a time, so the runtime is single-threaded: no wake-ups across threads, and one malloc arena
/// (argon2's 19 MiB blocks would otherwise pile up in one arena per worker thread).
#[macro_export]
macro_rules! http_function {
    ($handler:path) => {
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), $crate::lambda_http::Error> {
            $crate::lambda::telemetry::init();
            let app = $crate::App::from_env()?;
            $crate::run_http(&|request| -> $crate::HttpAnswer<'_> {
                Box::pin($handler(&app, request))
            })
            .await
        }
    };
}
