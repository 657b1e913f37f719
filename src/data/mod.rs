//! Data in: CSV tables ([`table`]), `.npy` arrays ([`npy`]), rows handed out in chunks
//! ([`source`]), files read chunk by chunk and CSV to `.npy` conversion ([`stream`]), and the
//! tensors training works on, with their split and standardization ([`dataset`]); sparse rows
//! ([`sparse`]) from libsvm text ([`libsvm`]) and scipy's CSR `.npz` ([`npz`]).

pub mod dataset;
pub mod libsvm;
pub mod npy;
pub mod npz;
pub mod source;
pub mod sparse;
pub mod stream;
pub mod table;
