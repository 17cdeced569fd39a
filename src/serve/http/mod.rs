//! The HTTP side of `flowc serve`: connections and their limits, TLS, the
//! request guard (credentials, `Host` and `Origin`), webhook signatures and
//! the routes.

pub(super) mod conn;
pub(super) mod guard;
pub(super) mod routes;
pub(super) mod signatures;
pub(super) mod tls;
