//! The PyTorch tutorial and parity with it: its random data ([`sample`]), the tutorial end to end
//! ([`tutorial`]), the golden fixtures ([`fixture`]) and the side-by-side parity table ([`parity`]).

pub mod fixture;
pub mod parity;
pub mod sample;
pub mod tutorial;
