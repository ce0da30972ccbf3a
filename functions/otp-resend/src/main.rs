use user_token_domain::{run_http, sigma, telemetry, App};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = App::from_env().await?;
    run_http(|request| sigma::resend(&app, request)).await
}
