//! GET /api/n/otp-handler/longPolling/{requestId}/status
user_token_domain::http_function!(user_token_domain::doors::sigma::status_long_polling);
