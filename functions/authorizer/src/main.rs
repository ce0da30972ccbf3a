use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::convert::Infallible;
use user_token_domain::{doors::authorizer, lambda::telemetry, App};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = App::from_env()?;
    let verifier = app.verifier().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        Ok::<_, Infallible>(
            authorizer::authorize(&verifier, app.store.as_ref(), event.payload).await,
        )
    }))
    .await
}
