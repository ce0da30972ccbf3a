//! The ports' implementations: DynamoDB, SNS and SES, and an in-memory twin for tests.

pub mod dynamodb;
pub mod kms;
pub mod memory;
pub mod messaging;
