//! FNV-1a (64 bits), the one fixed hash whose values files and processes compare: checkpoints'
//! fingerprints, a recipe file's labels, the settings ranks agree on. Fixed, so a value means the
//! same to every build.

/// FNV-1a's offset basis: the hash of no bytes.
pub(crate) const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `hash` ([`FNV_START`] to begin).
pub(crate) fn fnv1a(hash: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(hash, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The values' bits in order: any change of value or order (two labels swapped, two cells
/// exchanged between columns) changes it.
pub(crate) fn values_hash(values: &[f32]) -> u64 {
    fnv1a(FNV_START, values.iter().flat_map(|v| v.to_bits().to_le_bytes()))
}
