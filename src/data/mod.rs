//! Data in: CSV tables ([`table`]), `.npy` arrays ([`npy`]), rows handed out in chunks
//! ([`source`]), files read chunk by chunk and CSV to `.npy` conversion ([`stream`]), and the
//! tensors training works on, with their split and standardization ([`dataset`]).

pub mod dataset;
pub mod npy;
pub mod source;
pub mod stream;
pub mod table;
