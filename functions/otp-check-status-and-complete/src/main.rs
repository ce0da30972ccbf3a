//! POST /api/n/otp-handler/{requestId}/checkStatusAndComplete
user_token_domain::http_function!(user_token_domain::doors::sigma::check_status_and_complete);
