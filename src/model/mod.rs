//! The model: the linear layer and its fitted form ([`linear`]), the penalties ([`penalty`]), the
//! model file ([`mod@file`]) and the metrics a model is scored by ([`metrics`]).

pub mod file;
pub mod linear;
pub mod metrics;
pub mod penalty;
