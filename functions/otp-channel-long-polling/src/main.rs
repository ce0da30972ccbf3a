//! GET /api/n/otp-handler/longPolling/{requestId}/channel
user_token_domain::http_function!(user_token_domain::doors::sigma::channel_long_polling);
