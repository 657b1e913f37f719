//! Checkpoints of SGD/Adam training: the files, and the fingerprint of the settings and data that a
//! resumed run must match.
//!
//! A checkpoint is two files, so that a save costs O(parameters + epochs since the last save), not
//! O(epochs so far). `<checkpoint>` (JSON, format 2, replaced whole by a rename at every save)
//! holds the epoch, the weights and optimizer state (floats as their bits, so they read back
//! exactly), the count and FNV-1a hash of the losses, and a checksum of all that and the
//! fingerprint. `<checkpoint>.losses` holds each epoch's losses (16 bytes of header, then per
//! epoch the training loss and, with a validation set, the validation loss, as little-endian f64
//! bits): written whole at a run's first save, then appended to. Records past the checkpoint's
//! count (a run killed between the two writes, or in the middle of a record) are ignored.
//!
//! Pace: a rename costs 0.05–0.7 ms on ext4, more than a small epoch, so a save is written at once
//! only when the run has trained for [`IDLE_PER_WRITE`] times the last write's duration since it;
//! else it is held (O(parameters)) and the next save replaces it. Every save is written when
//! epochs are slower than that; with faster ones, writes take a fifth of the run at most (the
//! disk's own work besides) and a SIGKILL loses the epochs of about five writes, a few ms.
//! [`Writer::flush`] writes a held one (at a Ctrl-C).
//!
//! When they reach the disk: a write is flushed (fsync of the loss file, then of the checkpoint
//! before its rename) at a run's first write and whenever [`SYNC_EVERY`] has passed since the last
//! flushed one; the writes between are left to the kernel's write-back. A killed process loses
//! nothing that way; a power cut can lose the writes of the last [`SYNC_EVERY`], or leave files
//! that no longer match, which are refused in one line, never resumed wrongly.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::data::csr_stream::CsrStream;
use crate::data::libsvm::SparseData;
use crate::data::source::Source;
use crate::data::stream::NpyRows;
use crate::data::table::Table;
use crate::error::{Error, Result};
use crate::hash::{fnv1a, values_hash, FNV_START};
use crate::output::{replace_with, write_atomically};
use crate::solvers::weights::Weights;
use crate::train::fit::FitConfig;
use crate::train::optim::OptimizerState;
use crate::train::{Snapshot, TrainState};

/// What a checkpoint must match to be resumed: every setting but the number of epochs, and the
/// data (its shape, column names and a hash of every value in order).
pub fn fingerprint(config: &FitConfig, data: &Table) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    format!(
        "{settings:?}; {} rows; {:?}; {:?}; features {:016x}; labels {:016x}",
        data.labels.len(),
        data.feature_names,
        data.label_name,
        values_hash(&data.features),
        values_hash(&data.labels)
    )
}

/// [`fingerprint`] of a run over K ≥ 3 classes: the table's, then the class names in order and
/// the weights (a hash of every sample weight's bits, the class weights as given).
pub fn multiclass_fingerprint(config: &FitConfig, data: &Table, classes: &[String], weights: &Weights) -> String {
    let sample = weights.sample.as_ref().map(|s| fnv1a(FNV_START, s.iter().flat_map(|v| v.to_bits().to_le_bytes())));
    format!(
        "{}; classes {classes:?}; sample weights {:?}; class weights {:?}",
        fingerprint(config, data),
        sample.map(|h| format!("{h:016x}")),
        weights.class
    )
}

/// The prefix of a distributed run's fingerprint: the number of ranks, read back by [`read`] to
/// name another world size in its refusal.
const RANKS_PREFIX: &str = "ranks ";

/// [`fingerprint`] for a run over one process per entry of `shards`: the settings, and each
/// rank's [`shard_hash`] in rank order.
pub fn distributed_fingerprint(config: &FitConfig, shards: &[u64]) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let hashes: Vec<String> = shards.iter().map(|h| format!("{h:016x}")).collect();
    format!("{RANKS_PREFIX}{}; {settings:?}; shards {}", shards.len(), hashes.join(" "))
}

/// One rank's part of [`distributed_fingerprint`]: FNV-1a of its table's shape, names and value
/// hashes (a rank sends the others 8 bytes, not its rows).
pub fn shard_hash(data: &Table) -> u64 {
    let text = format!(
        "{} rows; {:?}; {:?}; features {:016x}; labels {:016x}",
        data.labels.len(),
        data.feature_names,
        data.label_name,
        values_hash(&data.features),
        values_hash(&data.labels)
    );
    fnv1a(FNV_START, text.bytes())
}

/// The number of ranks a fingerprint was written by: 1 for a single process.
fn ranks_of(fingerprint: &str) -> Option<usize> {
    match fingerprint.strip_prefix(RANKS_PREFIX) {
        Some(rest) => rest.split(';').next()?.parse().ok(),
        None => Some(1),
    }
}

/// [`fingerprint`] for an out-of-core file: its shape and size, a hash of all its bytes (one
/// pass over the file when a run with checkpoints starts or resumes, against the run's pass per
/// epoch), and a hash of every label.
pub fn stream_fingerprint(config: &FitConfig, rows: &NpyRows) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let path = Path::new(rows.name());
    let (size, content) = file_hash(path).unwrap_or((0, 0));
    format!(
        "{settings:?}; {} rows × {}; {size} bytes; content {content:016x}; labels {:016x}",
        rows.rows(),
        rows.features(),
        values_hash(rows.labels())
    )
}

/// [`stream_fingerprint`] of a run over K ≥ 3 classes (its labels the class indices): then the
/// class names in order.
pub fn multiclass_stream_fingerprint(config: &FitConfig, rows: &NpyRows, classes: &[String]) -> String {
    format!("{}; classes {classes:?}", stream_fingerprint(config, rows))
}

/// The first word of a sparse run's fingerprint, read back by [`read`] to refuse a dense
/// checkpoint for sparse data (and the reverse) by name.
const SPARSE_PREFIX: &str = "sparse ";

/// XXH3 of the little-endian bytes of `values` (a CSR array's, a few GB/s), converted 64 Ki
/// values at a time: no copy of the array.
fn array_hash<T: Copy, const N: usize>(values: &[T], bytes: impl Fn(T) -> [u8; N]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = twox_hash::XxHash3_64::with_seed(0);
    let mut buffer = Vec::with_capacity(N << 16);
    for chunk in values.chunks(1 << 16) {
        buffer.clear();
        buffer.extend(chunk.iter().flat_map(|&v| bytes(v)));
        hasher.write(&buffer);
    }
    hasher.finish()
}

/// [`fingerprint`] for sparse rows in memory (libsvm, `.npz` or `.lrcsr` read whole): the
/// settings, the shape, and XXH3 of the CSR arrays (row pointers, column indices, values) and
/// the labels.
pub fn sparse_fingerprint(config: &FitConfig, data: &SparseData) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let x = &data.x;
    format!(
        "{SPARSE_PREFIX}rows; {settings:?}; {} rows × {}; {} non-zeros; indptr {:016x}; indices {:016x}; values {:016x}; labels {:016x}",
        x.rows(),
        x.cols(),
        x.nnz(),
        array_hash(x.indptr(), |p| (p as u64).to_le_bytes()),
        array_hash(x.indices(), u32::to_le_bytes),
        array_hash(x.values(), |v| v.to_bits().to_le_bytes()),
        values_hash(&data.labels)
    )
}

/// [`fingerprint`] for a `.lrcsr` file streamed chunk by chunk: the settings, the shape, and the
/// file's size and XXH3 of all its bytes (one pass when a run with checkpoints starts).
pub fn sparse_stream_fingerprint(config: &FitConfig, stream: &CsrStream) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let (size, content) = file_hash(Path::new(stream.name())).unwrap_or((0, 0));
    format!(
        "{SPARSE_PREFIX}stream; {settings:?}; {} rows × {}; {} non-zeros; {size} bytes; content {content:016x}; labels {:016x}",
        stream.rows(),
        stream.cols(),
        stream.nnz(),
        values_hash(stream.labels())
    )
}

/// The length of the file at `path` and an XXH3 hash of all its bytes, read 1 MiB at a time (a
/// few GB/s: FNV-1a, a byte at a time, would cost more than an epoch).
fn file_hash(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::hash::Hasher;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = twox_hash::XxHash3_64::with_seed(0);
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((size, hasher.finish()));
        }
        hasher.write(&buffer[..n]);
        size += n as u64;
    }
}

/// The longest a flushed checkpoint trails the newest: a flush (two fsyncs) costs milliseconds on
/// a disk, as much as hundreds of small epochs, so writes between flushes are not flushed.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Training time owed after each write, in multiples of the write's own time, before the next
/// save is written: writing then takes at most a fifth of a run. (At 2, the write-back that a
/// rename starts made `--checkpoint-every 1` cost 1.8× on small epochs; at 4, 1.4×.)
pub const IDLE_PER_WRITE: u32 = 4;

/// The checkpoint format this build writes and reads.
const FORMAT_VERSION: u64 = 2;

/// The first bytes of a loss file.
const LOSSES_MAGIC: &[u8; 16] = b"logreg-losses 2\n";

/// A checkpoint file as it is written and read.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile<'a> {
    format: std::borrow::Cow<'a, str>,
    format_version: u64,
    fingerprint: std::borrow::Cow<'a, str>,
    state: SavedState,
    /// FNV-1a of the fingerprint and the state's values ([`checksum`]): an edit shows.
    checksum: u64,
}

/// The training state in a checkpoint, floats as their bits.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    epoch: usize,
    /// Softmax over this many classes (the weights then the biases in `weight`); absent for
    /// two classes, so two-class checkpoints are the files format 2 always wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classes: Option<usize>,
    weight: Vec<u32>,
    bias: u32,
    step: u64,
    moments: Vec<(Vec<u32>, Vec<u32>)>,
    /// Records in the loss file that belong to this checkpoint (one per epoch).
    losses: usize,
    /// Whether each record holds a validation loss too.
    validation: bool,
    /// FNV-1a of those records' bytes.
    losses_fnv1a: u64,
}

/// FNV-1a of the fingerprint's hash `start` continued over every value of `state`, each list
/// preceded by its length.
fn checksum(start: u64, state: &SavedState) -> u64 {
    let mut h = start;
    let words = |h: &mut u64, values: &[u32]| {
        *h = fnv1a(*h, (values.len() as u64).to_le_bytes());
        *h = fnv1a(*h, values.iter().flat_map(|v| v.to_le_bytes()));
    };
    h = fnv1a(h, (state.epoch as u64).to_le_bytes());
    if let Some(k) = state.classes {
        h = fnv1a(h, b"classes".iter().copied().chain((k as u64).to_le_bytes()));
    }
    words(&mut h, &state.weight);
    words(&mut h, &[state.bias]);
    h = fnv1a(h, state.step.to_le_bytes());
    h = fnv1a(h, (state.moments.len() as u64).to_le_bytes());
    for (m, v) in &state.moments {
        words(&mut h, m);
        words(&mut h, v);
    }
    h = fnv1a(h, (state.losses as u64).to_le_bytes());
    h = fnv1a(h, [u8::from(state.validation)]);
    fnv1a(h, state.losses_fnv1a.to_le_bytes())
}

/// The loss file beside the checkpoint at `path`: `<path>.losses`.
pub fn losses_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".losses");
    PathBuf::from(name)
}

/// Writes one run's checkpoints to a path, and their losses to the loss file beside it.
pub struct Writer {
    path: PathBuf,
    losses_path: PathBuf,
    fingerprint: String,
    fingerprint_hash: u64,
    /// The loss file, open for appending, once this run has written it whole.
    file: Option<std::fs::File>,
    /// Loss file bytes saved but not yet written (the header too before the file is written).
    unwritten: Vec<u8>,
    /// Records saved (written or not), and the hash of them all.
    records: usize,
    hash: u64,
    /// The newest state saved but not yet written.
    pending: Option<SavedState>,
    /// The epoch of the checkpoint this run last wrote.
    written: Option<usize>,
    /// When the last write ended, and how long it took.
    last_write: Option<(Instant, Duration)>,
    /// When the last flushed write was made.
    synced: Option<Instant>,
}

impl Writer {
    /// Checkpoints of a run with this `fingerprint` ([`fingerprint`], [`stream_fingerprint`]) to
    /// `path`.
    pub fn new(path: &Path, fingerprint: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            losses_path: losses_path(path),
            fingerprint: fingerprint.to_string(),
            fingerprint_hash: fnv1a(FNV_START, fingerprint.bytes()),
            file: None,
            unwritten: LOSSES_MAGIC.to_vec(),
            records: 0,
            hash: FNV_START,
            pending: None,
            written: None,
            last_write: None,
            synced: None,
        }
    }

    /// Saves `state`: written at once (the losses since the last write appended to the loss file,
    /// the whole file at a run's first write; then the checkpoint replaced by a rename) unless
    /// writing is paced as the module says, when it waits for the next save or [`Writer::flush`].
    pub fn save(&mut self, state: &Snapshot) -> Result<()> {
        let epochs = state.losses.len();
        if epochs < self.records {
            // Fewer epochs than already saved: another run's history, so the loss file anew.
            (self.file, self.unwritten, self.records, self.hash) = (None, LOSSES_MAGIC.to_vec(), 0, FNV_START);
        }
        let start = self.unwritten.len();
        for i in self.records..epochs {
            self.unwritten.extend_from_slice(&state.losses[i].to_le_bytes());
            if let Some(v) = state.validation_losses.get(i) {
                self.unwritten.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.hash = fnv1a(self.hash, self.unwritten[start..].iter().copied());
        self.records = epochs;
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        self.pending = Some(SavedState {
            epoch: state.epoch,
            classes: state.classes,
            weight: bits(&state.weight),
            bias: state.bias.to_bits(),
            step: state.optimizer.step,
            moments: state.optimizer.moments.iter().map(|(m, v)| (bits(m), bits(v))).collect(),
            losses: epochs,
            validation: !state.validation_losses.is_empty(),
            losses_fnv1a: self.hash,
        });
        let due = self.last_write.is_none_or(|(end, took)| end.elapsed() >= took * IDLE_PER_WRITE);
        if due {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the newest state saved and not yet written, if any (at a Ctrl-C, say).
    pub fn flush(&mut self) -> Result<()> {
        let Some(state) = self.pending.take() else { return Ok(()) };
        let start = Instant::now();
        let sync = self.synced.is_none_or(|t| t.elapsed() >= SYNC_EVERY);
        let io = |error| Error::Io { path: self.losses_path.clone(), error };
        // A loss file this first write creates is removed again if the checkpoint then fails.
        let created = self.file.is_none() && !self.losses_path.exists();
        match &mut self.file {
            Some(file) => {
                file.write_all(&self.unwritten).map_err(io)?;
                if sync {
                    file.sync_data().map_err(io)?;
                }
            }
            None => {
                // The run's first write: the file whole, resumed epochs included (a file of
                // another run's, or with a partial record at its end, is replaced).
                write(&self.losses_path, &self.unwritten, sync)?;
                self.file = Some(std::fs::OpenOptions::new().append(true).open(&self.losses_path).map_err(io)?);
            }
        }
        self.unwritten.clear();
        let epoch = state.epoch;
        let file = CheckpointFile {
            format: "logreg-checkpoint".into(),
            format_version: FORMAT_VERSION,
            fingerprint: self.fingerprint.as_str().into(),
            checksum: checksum(self.fingerprint_hash, &state),
            state,
        };
        let json = serde_json::to_vec(&file).map_err(|e| Error::Io { path: self.path.clone(), error: e.into() })?;
        if let Err(e) = write(&self.path, &json, sync) {
            if created {
                self.file = None;
                let _ = std::fs::remove_file(&self.losses_path);
            }
            return Err(e);
        }
        let end = Instant::now();
        (self.written, self.last_write) = (Some(epoch), Some((end, end - start)));
        if sync {
            self.synced = Some(end);
        }
        Ok(())
    }

    /// The epoch of the checkpoint this run last wrote, if it wrote one.
    pub fn written_epoch(&self) -> Option<usize> {
        self.written
    }
}

/// Replaces `path` by `bytes` through a rename, flushed to disk first when `sync`.
fn write(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    if sync {
        write_atomically(path, bytes)
    } else {
        replace_with(path, ".tmp", |tmp| tmp.write_all(bytes))
    }
}

/// The most bytes a checkpoint of a model with `features` features and this fingerprint can hold:
/// the fingerprint escaped (at most 6 bytes a byte), 3 values of at most 11 bytes per parameter,
/// twice over for any spacing, and room for the rest.
fn size_limit(fingerprint: &str, features: usize) -> u64 {
    let values = (features as u64).saturating_add(2).saturating_mul(3 * 11 * 2);
    (fingerprint.len() as u64).saturating_mul(6).saturating_add(values).saturating_add(64 << 10)
}

/// The training state in the checkpoint at `path` (and its loss file), which must have been
/// written for `fingerprint` with `features` features. Reads at most what such a checkpoint can
/// hold, and only as many loss records as the checkpoint counts.
pub fn read(path: &Path, fingerprint: &str, features: usize) -> Result<TrainState> {
    read_classes(path, fingerprint, features, None)
}

/// [`read`] for a run of `classes` (`None`: two classes; `Some(K)`: softmax over K ≥ 3, the
/// checkpoint holding K·(features + 1) parameters). A checkpoint of the other kind, or of another
/// number of classes, is refused naming both.
pub fn read_classes(path: &Path, fingerprint: &str, features: usize, classes: Option<usize>) -> Result<TrainState> {
    let parameters = match classes {
        Some(k) => k.saturating_mul(features.saturating_add(1)),
        None => features,
    };
    let bad = |message: String| Error::Input { location: path.display().to_string(), message };
    let not_ours = |why: &str| bad(format!("not a logreg checkpoint ({why})"));
    let io = |error| Error::Io { path: path.to_path_buf(), error };
    let limit = size_limit(fingerprint, parameters);
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    // One byte past the limit, no more, whatever the file (a device or pipe has no length).
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        // Cut inside a character at the limit: the text up to it.
        Err(e) if bytes.len() as u64 > limit && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to here")
        }
        Err(_) => return Err(not_ours("binary content, not JSON text")),
    };
    if text.contains('\0') {
        return Err(not_ours("binary content, not JSON text"));
    }
    if bytes.len() as u64 > limit {
        // Format 1 held every loss, so it outgrows the limit; its keys come sorted.
        if text.contains("\"format\":\"logreg-checkpoint\",\"format_version\":1,") {
            return Err(bad("written by an older logreg; start again without --resume".into()));
        }
        let size = if meta.is_file() { format!("{} bytes", meta.len()) } else { format!("over {limit} bytes") };
        return Err(not_ours(&format!("{size}; one of {features} features holds at most {limit}")));
    }
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| not_ours(&crate::error::one_line(&e.to_string())))?;
    if json.get("format").and_then(|f| f.as_str()) != Some("logreg-checkpoint") {
        return Err(not_ours("no \"format\": \"logreg-checkpoint\""));
    }
    match json.get("format_version").and_then(|v| v.as_u64()) {
        Some(FORMAT_VERSION) => {}
        Some(v) if v < FORMAT_VERSION => {
            return Err(bad("written by an older logreg; start again without --resume".into()));
        }
        Some(v) => return Err(bad(format!("written by a newer logreg (checkpoint format {v})"))),
        None => return Err(not_ours("no format_version")),
    }
    let file: CheckpointFile = serde_json::from_value(json)
        .map_err(|e| bad(format!("damaged checkpoint ({})", crate::error::one_line(&e.to_string()))))?;
    let state = file.state;
    // A checkpoint true to its own fingerprint, of the other kind: named as such (an edited class
    // count fails this checksum and ends below as a damaged checkpoint).
    let intact = file.checksum == checksum(fnv1a(FNV_START, file.fingerprint.bytes()), &state);
    if intact && state.classes != classes {
        let kind = |c: Option<usize>| match c {
            Some(k) => format!("{k} classes (softmax)"),
            None => "two classes".to_string(),
        };
        return Err(bad(format!(
            "the checkpoint is of a model of {}; this run fits {}: start again without --resume",
            kind(state.classes),
            kind(classes)
        )));
    }
    if file.fingerprint != fingerprint {
        let sparse = |f: &str| f.starts_with(SPARSE_PREFIX);
        if sparse(&file.fingerprint) != sparse(fingerprint) {
            let kind = |f: &str| if sparse(f) { "sparse" } else { "dense" };
            return Err(bad(format!(
                "the checkpoint was written for {} data; this run's --data is {}",
                kind(&file.fingerprint),
                kind(fingerprint)
            )));
        }
        if let (Some(written), Some(now)) = (ranks_of(&file.fingerprint), ranks_of(fingerprint)) {
            if written != now {
                let by = |r: usize| if r == 1 { "1 process".to_string() } else { format!("{r} ranks") };
                return Err(bad(format!(
                    "the checkpoint was written by {}; this run has {}: resume it with {} (each rank's shard and batches are part of the state)",
                    by(written),
                    by(now),
                    by(written)
                )));
            }
        }
        return Err(bad("the checkpoint was written for other data or settings (only the epochs may change)".into()));
    }
    if file.checksum != checksum(fnv1a(FNV_START, fingerprint.bytes()), &state) {
        return Err(bad("damaged checkpoint (its checksum does not match its contents: edited?)".into()));
    }
    if state.losses != state.epoch {
        return Err(bad(format!("damaged checkpoint ({} losses for {} epochs)", state.losses, state.epoch)));
    }
    if state.weight.len() != parameters {
        return Err(bad(match classes {
            Some(k) => format!(
                "holds {} parameters; {k} classes × ({features} features + 1 bias) are {parameters}",
                state.weight.len()
            ),
            None => format!("holds {} weights; the data has {features} features", state.weight.len()),
        }));
    }
    let (losses, validation_losses) =
        read_losses(&losses_path(path), state.losses, state.validation, state.losses_fnv1a)?;
    let floats = |v: &[u32]| v.iter().map(|&b| f32::from_bits(b)).collect::<Vec<f32>>();
    Ok(TrainState {
        epoch: state.epoch,
        classes: state.classes,
        weight: floats(&state.weight),
        bias: f32::from_bits(state.bias),
        optimizer: OptimizerState {
            step: state.step,
            moments: state.moments.iter().map(|(m, v)| (floats(m), floats(v))).collect(),
        },
        losses,
        validation_losses,
    })
}

/// The first `count` records of the loss file at `path` (training losses, and validation losses
/// when `validation`), which must hash to `hash`; any bytes after them are ignored.
fn read_losses(path: &Path, count: usize, validation: bool, hash: u64) -> Result<(Vec<f64>, Vec<f64>)> {
    let bad = |message: String| Error::Input { location: path.display().to_string(), message };
    let io = |error: std::io::Error| bad(format!("the checkpoint's loss file cannot be read ({error})"));
    let width: u64 = if validation { 16 } else { 8 };
    let header = LOSSES_MAGIC.len() as u64;
    let need = (count as u64).checked_mul(width).and_then(|b| b.checked_add(header));
    let need = need.ok_or_else(|| bad(format!("{count} epochs of losses is more than a file holds")))?;
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(bad("the checkpoint's loss file is not a regular file".into()));
    }
    if meta.len() < need {
        let held = meta.len().saturating_sub(header) / width;
        return Err(bad(format!("holds the losses of {held} epochs, not the checkpoint's {count} (cut short?)")));
    }
    let mut reader = std::io::BufReader::new(file.take(need));
    let mut magic = [0u8; 16];
    reader.read_exact(&mut magic).map_err(io)?;
    if &magic != LOSSES_MAGIC {
        return Err(bad("not a logreg loss file".into()));
    }
    let too_many = |_| bad(format!("{count} epochs of losses do not fit in memory"));
    let mut losses = Vec::new();
    losses.try_reserve_exact(count).map_err(too_many)?;
    let mut validation_losses = Vec::new();
    if validation {
        validation_losses.try_reserve_exact(count).map_err(too_many)?;
    }
    let mut h = FNV_START;
    let mut record = [0u8; 16];
    let record = &mut record[..width as usize];
    for _ in 0..count {
        reader.read_exact(record).map_err(io)?;
        h = fnv1a(h, record.iter().copied());
        losses.push(f64::from_le_bytes(record[..8].try_into().expect("8 bytes")));
        if validation {
            validation_losses.push(f64::from_le_bytes(record[8..].try_into().expect("8 bytes")));
        }
    }
    if h != hash {
        return Err(bad("the losses do not match the checkpoint's (edited, or written by another run)".into()));
    }
    Ok((losses, validation_losses))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot<'a>(epoch: usize, losses: &'a [f64], validation_losses: &'a [f64]) -> Snapshot<'a> {
        Snapshot {
            epoch,
            classes: None,
            weight: vec![0.1, -0.0, f32::MIN_POSITIVE / 3.0],
            bias: 0.125 + epoch as f32,
            optimizer: OptimizerState {
                step: epoch as u64,
                moments: vec![(vec![1e-30, 2.0, 3.0], vec![4.0, 5.0, 6.0])],
            },
            losses: &losses[..epoch],
            validation_losses: &validation_losses[..validation_losses.len().min(epoch)],
        }
    }

    fn bits(state: &TrainState) -> Vec<u64> {
        let mut out: Vec<u64> = state.weight.iter().map(|w| u64::from(w.to_bits())).collect();
        out.push(u64::from(state.bias.to_bits()));
        out.extend(state.losses.iter().chain(&state.validation_losses).map(|l| l.to_bits()));
        out
    }

    const LOSSES: [f64; 6] = [0.7, 0.6, 0.55, 0.5, 0.45, 0.4];

    #[test]
    fn the_fingerprint_sees_values_move_even_when_their_sums_do_not() {
        let config = FitConfig {
            train: crate::train::TrainConfig::default(),
            seed: 0,
            standardize: false,
            validation_split: None,
            solver: None,
            sklearn: None,
        };
        let table = |features: Vec<f32>, labels: Vec<f32>| Table {
            source: "t.csv".into(),
            feature_names: vec!["a".into(), "b".into()],
            label_name: Some("y".into()),
            features,
            labels,
        };
        let base = fingerprint(&config, &table(vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 1.0]));
        assert_eq!(base, fingerprint(&config, &table(vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 1.0])));
        assert_ne!(base, fingerprint(&config, &table(vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 0.0])), "labels swapped");
        assert_ne!(base, fingerprint(&config, &table(vec![2.0, 1.0, 3.0, 4.0], vec![0.0, 1.0])), "cells swapped");
    }

    #[test]
    fn a_checkpoint_of_another_world_size_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        let config = FitConfig {
            train: crate::train::TrainConfig::default(),
            seed: 0,
            standardize: false,
            validation_split: None,
            solver: None,
            sklearn: None,
        };
        let (two, four) = (distributed_fingerprint(&config, &[1, 2]), distributed_fingerprint(&config, &[1, 2, 3, 4]));
        assert_eq!(ranks_of(&two), Some(2));
        Writer::new(&path, &two).save(&snapshot(2, &LOSSES, &[])).unwrap();
        assert_eq!(read(&path, &two, 3).unwrap().epoch, 2);
        let name = path.display();
        let e = read(&path, &four, 3).unwrap_err().to_string();
        assert_eq!(e, format!("{name}: the checkpoint was written by 2 ranks; this run has 4 ranks: resume it with 2 ranks (each rank's shard and batches are part of the state)"));
        // The same ranks with another shard: the general refusal.
        let other = distributed_fingerprint(&config, &[1, 5]);
        assert!(read(&path, &other, 3).unwrap_err().to_string().ends_with("(only the epochs may change)"));
        Writer::new(&path, "single").save(&snapshot(2, &LOSSES, &[])).unwrap();
        let e = read(&path, &two, 3).unwrap_err().to_string();
        assert!(e.contains("written by 1 process; this run has 2 ranks: resume it with 1 process"), "{e}");
    }

    #[test]
    fn saves_append_the_new_losses_and_read_back_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        let validation = [0.9, 0.8, 0.7, 0.65, 0.6, 0.55];
        for valid in [&validation[..], &[]] {
            let mut writer = Writer::new(&path, "settings A");
            writer.save(&snapshot(2, &LOSSES, valid)).unwrap();
            assert_eq!(writer.written_epoch(), Some(2), "a run's first save is written at once");
            let header = LOSSES_MAGIC.len() as u64;
            let width = if valid.is_empty() { 8 } else { 16 };
            assert_eq!(std::fs::metadata(losses_path(&path)).unwrap().len(), header + 2 * width);
            let last = snapshot(5, &LOSSES, valid);
            writer.save(&last).unwrap();
            writer.flush().unwrap();
            assert_eq!(writer.written_epoch(), Some(5));
            // Appended, not rewritten: 5 records, and the checkpoint itself O(parameters).
            assert_eq!(std::fs::metadata(losses_path(&path)).unwrap().len(), header + 5 * width);
            assert!(std::fs::metadata(&path).unwrap().len() < 600);
            let read_back = read(&path, "settings A", 3).unwrap();
            assert_eq!(read_back, last.to_state());
            assert_eq!(bits(&read_back), bits(&last.to_state()));
        }
    }

    #[test]
    fn a_softmax_state_reads_back_with_its_classes_and_is_refused_by_the_other_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        // 3 classes × (1 feature + 1 bias): the 3 weights then the 3 biases.
        let snap =
            Snapshot { classes: Some(3), weight: vec![0.5, -1.0, 0.25, 0.1, 0.2, -0.3], ..snapshot(2, &LOSSES, &[]) };
        Writer::new(&path, "A").save(&snap).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"classes\":3"), "{text}");
        assert_eq!(read_classes(&path, "A", 1, Some(3)).unwrap(), snap.to_state());
        let name = path.display();
        let e = read(&path, "A", 6).unwrap_err().to_string();
        assert_eq!(e, format!("{name}: the checkpoint is of a model of 3 classes (softmax); this run fits two classes: start again without --resume"));
        let e = read_classes(&path, "A", 1, Some(4)).unwrap_err().to_string();
        assert!(e.contains("of a model of 3 classes (softmax); this run fits 4 classes (softmax)"), "{e}");
        let e = read_classes(&path, "A", 2, Some(3)).unwrap_err().to_string();
        assert_eq!(e, format!("{name}: holds 6 parameters; 3 classes × (2 features + 1 bias) are 9"));
        // The count edited: the checksum covers it.
        std::fs::write(&path, text.replacen("\"classes\":3", "\"classes\":2", 1)).unwrap();
        let e = read_classes(&path, "A", 1, Some(3)).unwrap_err().to_string();
        assert!(e.ends_with("damaged checkpoint (its checksum does not match its contents: edited?)"), "{e}");
        // A two-class checkpoint keeps format 2's bytes (no `classes` key) and is refused by a softmax run.
        Writer::new(&path, "A").save(&snapshot(2, &LOSSES, &[])).unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("classes"));
        let e = read_classes(&path, "A", 1, Some(3)).unwrap_err().to_string();
        assert!(e.contains("the checkpoint is of a model of two classes; this run fits 3 classes (softmax)"), "{e}");
    }

    #[test]
    fn saves_faster_than_writes_are_held_and_the_newest_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        let losses: Vec<f64> = (0..2000).map(|i| 1.0 / (i + 1) as f64).collect();
        let mut writer = Writer::new(&path, "A");
        let mut written = std::collections::BTreeSet::new();
        for epoch in 1..=losses.len() {
            writer.save(&snapshot(epoch, &losses, &[])).unwrap();
            written.extend(writer.written_epoch());
        }
        // Back to back, most saves wait (a write is a rename or more), and none is lost:
        assert!(written.len() < 1000, "{} of 2000 saves written", written.len());
        writer.flush().unwrap();
        assert_eq!(writer.written_epoch(), Some(2000));
        assert_eq!(read(&path, "A", 3).unwrap().losses, losses);
    }

    #[test]
    fn a_partial_record_after_the_checkpoint_is_ignored_and_replaced_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        Writer::new(&path, "A").save(&snapshot(3, &LOSSES, &[])).unwrap();
        let mut side = std::fs::OpenOptions::new().append(true).open(losses_path(&path)).unwrap();
        side.write_all(&LOSSES[3].to_le_bytes()).unwrap();
        side.write_all(&[1, 2, 3]).unwrap();
        let state = read(&path, "A", 3).unwrap();
        assert_eq!(state.losses, LOSSES[..3]);
        // A resumed run's first save writes the file whole again, without the stray bytes.
        Writer::new(&path, "A").save(&snapshot(4, &LOSSES, &[])).unwrap();
        assert_eq!(std::fs::metadata(losses_path(&path)).unwrap().len(), 16 + 4 * 8);
        assert_eq!(read(&path, "A", 3).unwrap().losses, LOSSES[..4]);
    }

    #[test]
    fn other_edited_cut_or_foreign_checkpoints_are_refused_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        let side = losses_path(&path);
        let fresh = || Writer::new(&path, "A").save(&snapshot(4, &LOSSES, &[])).unwrap();
        let refusal = |fingerprint: &str, features: usize| {
            let e = read(&path, fingerprint, features).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{e}");
            e
        };
        let name = path.display().to_string();
        let side_name = side.display().to_string();
        fresh();
        assert_eq!(
            refusal("B", 3),
            format!("{name}: the checkpoint was written for other data or settings (only the epochs may change)")
        );
        assert_eq!(refusal("A", 4), format!("{name}: holds 3 weights; the data has 4 features"));

        let text = std::fs::read_to_string(&path).unwrap();
        let edits = [
            ("\"epoch\":4", "\"epoch\":3"),
            ("\"step\":4", "\"step\":40"),
            ("\"bias\":", "\"bias\":1"),
            ("\"losses\":4", "\"losses\":3"),
        ];
        for (from, to) in edits {
            assert!(text.contains(from), "{text}");
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            assert!(refusal("A", 3).starts_with(&format!("{name}: damaged checkpoint (")), "{from} → {to}");
        }
        std::fs::write(&path, text.replacen("\"format_version\":2", "\"format_version\":1", 1)).unwrap();
        assert_eq!(refusal("A", 3), format!("{name}: written by an older logreg; start again without --resume"));
        std::fs::write(&path, text.replacen("\"epoch\":4", "\"epoch\":\"4\\nx\"", 1)).unwrap();
        assert!(refusal("A", 3).starts_with(&format!("{name}: damaged checkpoint (invalid type: string \"4\\nx\"")));
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(refusal("A", 3).starts_with(&format!("{name}: not a logreg checkpoint (EOF while parsing")));
        std::fs::write(&path, b"{\"format\": \"something else\"}").unwrap();
        assert_eq!(refusal("A", 3), format!("{name}: not a logreg checkpoint (no \"format\": \"logreg-checkpoint\")"));
        // A safetensors model: an 8-byte length, then JSON.
        std::fs::write(&path, [&[0x88u8, 0, 0, 0, 0, 0, 0, 0][..], b"{\"weight\":{}}"].concat()).unwrap();
        assert_eq!(refusal("A", 3), format!("{name}: not a logreg checkpoint (binary content, not JSON text)"));
        // Longer than any checkpoint of 3 features: refused after reading just past the limit.
        std::fs::File::create(&path).unwrap().set_len(1 << 40).unwrap();
        assert_eq!(refusal("A", 3), format!("{name}: not a logreg checkpoint (binary content, not JSON text)"));
        let long = format!("{{\"format\": {}\"logreg-checkpoint\"}}", " ".repeat(1 << 20));
        std::fs::write(&path, &long).unwrap();
        let limit = size_limit("A", 3);
        assert_eq!(
            refusal("A", 3),
            format!("{name}: not a logreg checkpoint ({} bytes; one of 3 features holds at most {limit})", long.len())
        );
        let e = read(Path::new("/dev/zero"), "A", 3).unwrap_err().to_string();
        assert_eq!(e, "/dev/zero: not a logreg checkpoint (binary content, not JSON text)");

        // The loss file: cut, edited, foreign, missing, not a file.
        fresh();
        let losses = std::fs::read(&side).unwrap();
        std::fs::write(&side, &losses[..losses.len() - 1]).unwrap();
        assert_eq!(
            refusal("A", 3),
            format!("{side_name}: holds the losses of 3 epochs, not the checkpoint's 4 (cut short?)")
        );
        let mut edited = losses.clone();
        edited[20] ^= 1;
        std::fs::write(&side, &edited).unwrap();
        assert_eq!(
            refusal("A", 3),
            format!("{side_name}: the losses do not match the checkpoint's (edited, or written by another run)")
        );
        std::fs::write(&side, [&b"not-a-loss-file\n"[..], &losses[16..]].concat()).unwrap();
        assert_eq!(refusal("A", 3), format!("{side_name}: not a logreg loss file"));
        std::fs::remove_file(&side).unwrap();
        assert!(refusal("A", 3)
            .starts_with(&format!("{side_name}: the checkpoint's loss file cannot be read (No such file")));
        std::fs::create_dir(&side).unwrap();
        assert_eq!(refusal("A", 3), format!("{side_name}: the checkpoint's loss file is not a regular file"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]
        /// A valid checkpoint and loss file with bytes replaced, inserted, removed or cut: each read
        /// ends in the state or a one-line error, never a panic.
        #[test]
        fn edited_checkpoints_read_or_fail_in_one_line(
            in_checkpoint in proptest::bool::ANY,
            edits in crate::testing::byte_edits(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run.ckpt");
            let mut writer = Writer::new(&path, "settings");
            writer.save(&snapshot(4, &LOSSES, &[])).unwrap();
            writer.flush().unwrap();
            let target = if in_checkpoint { path.clone() } else { losses_path(&path) };
            let bytes = crate::testing::edited(std::fs::read(&target).unwrap(), &edits);
            std::fs::write(&target, &bytes).unwrap();
            if let Err(e) = read(&path, "settings", 3) {
                let text = e.to_string();
                proptest::prop_assert!(!text.contains('\n') && text.len() < 400, "{text}");
            }
        }
    }
}
