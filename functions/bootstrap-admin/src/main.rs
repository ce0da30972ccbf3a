//! The first backoffice admin of a fresh deployment, invited once: `sam remote invoke BootstrapAdminFunction`
//! (docs/operations.md).
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::convert::Infallible;
use user_token_domain::pipelines::bootstrap::bootstrap_admin;
use user_token_domain::{lambda::telemetry, App};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = App::from_env()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        Ok::<_, Infallible>(bootstrap_admin(&app, event.payload).await)
    }))
    .await
}
