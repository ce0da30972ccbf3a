use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{service_fn, LambdaEvent};
use std::convert::Infallible;
use user_token_domain::adapters::messaging::EventPublisher;
use user_token_domain::lambda::aws_sdk_config;
use user_token_domain::lambda::config::AwsSettings;
use user_token_domain::lambda::telemetry;
use user_token_domain::pipelines::events::publish_stream;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let topic_arn = std::env::var("EVENTS_TOPIC_ARN")
        .ok()
        .filter(|arn| !arn.is_empty())
        .ok_or("environment variable EVENTS_TOPIC_ARN is required")?;
    let publisher = EventPublisher::new(
        aws_sdk_sns::Client::new(&aws_sdk_config(&AwsSettings::from_env()?)?),
        topic_arn,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async {
        Ok::<_, Infallible>(publish_stream(&publisher, event.payload).await)
    }))
    .await
}
