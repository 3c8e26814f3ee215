//! SIP signalling (RFC 3261): messages, transactions, dialogs and the endpoint that ties
//! them together.

pub mod admission;
pub mod auth;
pub mod call;
pub mod dialog;
pub mod endpoint;
pub mod message;
pub mod peer;
pub mod registrar;
pub mod registration;
pub mod transaction;
