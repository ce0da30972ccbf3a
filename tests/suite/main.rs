//! The one integration test binary: handler fixtures, adapters against the emulator, and end to end through the
//! local gateway. Run it with `make test`, which starts the emulator.

mod end_to_end;
mod engine;
mod handlers;
mod pipelines;
mod qi;
mod sigma;
mod store;
mod velo_tokens;
mod velo_users;
