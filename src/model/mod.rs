//! The model: the linear layer and its fitted form ([`linear`]), the penalties ([`penalty`]), the
//! model file ([`mod@file`]) and the metrics a model is scored by ([`metrics`]); a multiclass
//! model and its file ([`multiclass`]) and metrics ([`multiclass_metrics`]).

pub mod file;
pub mod linear;
pub mod metrics;
pub mod multiclass;
pub mod multiclass_metrics;
pub mod penalty;
