use user_token_domain::{qi, run_http, telemetry, App};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = App::from_env().await?;
    run_http(|request| qi::resend_device_token(&app, request)).await
}
