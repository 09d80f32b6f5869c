//! The gateway (feature `gateway`): see docs/gateway.md.
