//! Data in: CSV tables ([`table`]), `.npy` arrays ([`npy`]), rows handed out in chunks
//! ([`source`]), files read chunk by chunk and CSV to `.npy` conversion ([`stream`]), and the
//! tensors training works on, with their split and standardization ([`dataset`]). What a raw file
//! becomes (label classes, IDs, chosen columns, categorical levels, missing values) is the
//! [`recipe`], built from [`labels`], [`select`], [`encode`] and [`missing`]; sparse rows
//! ([`sparse`]) come from libsvm text ([`libsvm`]), scipy's CSR `.npz` ([`npz`]) and logreg's binary
//! CSR file ([`csr_file`]).

pub mod csr_file;
pub mod csr_stream;
pub mod dataset;
pub mod encode;
pub mod labels;
pub mod libsvm;
pub mod missing;
pub mod npy;
pub mod npz;
pub mod recipe;
pub mod recipe_file;
pub mod select;
pub mod shard;
pub mod source;
pub mod sparse;
pub mod stream;
pub mod table;
