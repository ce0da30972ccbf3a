use lambda_runtime::{service_fn, LambdaEvent};
use std::convert::Infallible;
use user_token_domain::pipelines::commands::{
    handle_messages, service_principal_from_env, SqsEvent,
};
use user_token_domain::{lambda::telemetry, App};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = App::from_env()?;
    let caller = service_principal_from_env()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Infallible>(handle_messages(&app, &caller, event.payload).await)
    }))
    .await
}
