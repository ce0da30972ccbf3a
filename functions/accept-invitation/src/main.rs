//! POST /v1/invitations/accept
user_token_domain::http_function!(user_token_domain::doors::velo::accept_invitation);
