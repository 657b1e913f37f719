//! Rows of f32 features with 0/1 labels as the fused engine reads them: a [`Source`] hands them
//! out in chunks (rows in memory, [`InMemory`], or a file's, [`crate::data::stream::NpyRows`]).

use tch::{Device, Kind, Tensor};

use crate::error::{ensure, Result};

/// Bytes of X per chunk when none is asked for: large enough that mapping costs little, small
/// enough that the resident set stays far below a gigabyte.
pub(crate) const CHUNK_BYTES: usize = 32 << 20;

/// What [`Source::with_chunk`] calls with a chunk's features and labels.
pub type ChunkFn<'a> = dyn FnMut(&[f32], &[f32]) -> Result<()> + 'a;

/// Rows of f32 features (row-major) with 0/1 labels, handed out in chunks.
pub trait Source: Sync {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Number of features per row.
    fn features(&self) -> usize;
    /// Number of chunks; chunk `i` holds rows `i·chunk_rows ..`.
    fn chunks(&self) -> usize;
    /// Rows in chunk `i` (without reading it).
    fn chunk_len(&self, i: usize) -> usize;
    /// Calls `f(x, y)` with chunk `i`'s features (`len × d`, row-major) and labels (`len`).
    fn with_chunk(&self, i: usize, f: &mut ChunkFn) -> Result<()>;
}

/// Rows already in memory, in chunks of `chunk_rows` (all rows: one chunk, so that mini-batches
/// follow one `randperm(n)` as the autograd engine's do).
pub struct InMemory<'a> {
    pub(crate) x: &'a [f32],
    pub(crate) y: &'a [f32],
    pub(crate) d: usize,
    pub(crate) chunk_rows: usize,
}

impl<'a> InMemory<'a> {
    /// All rows as one chunk.
    pub fn new(x: &'a [f32], y: &'a [f32], d: usize) -> Self {
        Self { x, y, d, chunk_rows: y.len().max(1) }
    }

    /// Chunks of [`CHUNK_BYTES`], for full passes: dealt whole to the threads, as
    /// the chunks of a file are.
    pub(crate) fn chunked(x: &'a [f32], y: &'a [f32], d: usize) -> Self {
        Self { x, y, d, chunk_rows: (CHUNK_BYTES / (4 * d.max(1))).max(1) }
    }
}

impl Source for InMemory<'_> {
    fn rows(&self) -> usize {
        self.y.len()
    }
    fn features(&self) -> usize {
        self.d
    }
    fn chunks(&self) -> usize {
        self.y.len().div_ceil(self.chunk_rows).max(1)
    }
    fn chunk_len(&self, i: usize) -> usize {
        self.chunk_rows.min(self.y.len() - i * self.chunk_rows)
    }
    fn with_chunk(&self, i: usize, f: &mut ChunkFn) -> Result<()> {
        let first = i * self.chunk_rows;
        let last = (first + self.chunk_rows).min(self.y.len());
        f(&self.x[first * self.d..last * self.d], &self.y[first..last])
    }
}

/// A contiguous f32 CPU tensor's values, borrowed for as long as the tensor lives.
pub(crate) fn tensor_values(t: &Tensor) -> Result<&[f32]> {
    ensure(t.kind() == Kind::Float, "engine", "fused", "needs f32 data")?;
    ensure(t.device() == Device::Cpu, "engine", "fused", "runs on the CPU here: move the rows to the CPU")?;
    ensure(t.is_contiguous(), "engine", "fused", "needs contiguous data")?;
    let len = t.numel();
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: a contiguous f32 CPU tensor holds `len` initialised f32 values at `data_ptr`, which
    // stay valid and unmoved while `t` is borrowed (we never write through another handle).
    Ok(unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, len) })
}
