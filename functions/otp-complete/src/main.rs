//! POST /api/n/otp-handler/{requestId}/complete
user_token_domain::http_function!(user_token_domain::doors::sigma::complete);
