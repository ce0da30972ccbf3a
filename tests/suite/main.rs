//! The one integration test binary: handler fixtures, adapters against the emulator, and end to end through the
//! local gateway. Run it with `make test`, which starts the emulator.

#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
mod auth_routes;
mod bodies;
mod end_to_end;
mod engine;
mod events;
mod faults;
mod handlers;
mod leaks;
mod load;
mod login;
mod openapi;
mod pipelines;
mod qi;
mod redeem;
mod schemathesis;
mod sigma;
mod store;
mod template;
mod velo_gateway;
mod velo_tokens;
mod velo_users;
