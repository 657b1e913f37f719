//! Compressed input, recognised by its first bytes (never its name) and decoded as a stream: gzip
//! (every member of a concatenated file) and zstd (every frame, checksums checked, skippable frames
//! passed over). Memory stays the decoders' buffers and zstd's window (at most 128 MiB).
//!
//! A decoder's failure comes out as an [`io::Error`] carrying [`Broken`], so the reader can name
//! the line it reached; a failure of the input itself (a read error) comes out as it was. A decoder
//! may run on a thread of its own ([`Decoded::in_background`]), so that decoding and parsing
//! overlap: on two cores a gzip or zstd file then reads about as fast as the plain one.

use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// Why decoded input stopped, carried inside an [`io::Error`].
#[derive(Debug)]
pub(super) enum Broken {
    /// The stream (`gzip`, `zstd`) does not decode, or ends early.
    Corrupt(&'static str),
    /// A compression format recognised but not read (`xz`, `bzip2`).
    Unsupported(&'static str),
    /// A zstd frame whose window (bytes) is larger than the decoder allows.
    Window(u64),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Corrupt(format) => write!(f, "{format} stream corrupt or truncated"),
            Broken::Unsupported(format) => write!(f, "{format}-compressed input is not read"),
            Broken::Window(bytes) => write!(f, "zstd window of {bytes} bytes"),
        }
    }
}

impl std::error::Error for Broken {}

fn broken(why: Broken) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// The compressed bytes read at a time (the decoders' own input buffer).
const INPUT_BUFFER: usize = 256 * 1024;

/// Bytes looked at to recognise a format: bzip2's signature is the longest.
const MAGIC: usize = 10;

/// The input as text: as it is, or decoded.
pub(super) enum Decoded<R: Read> {
    Plain(Prefixed<R>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<Source<Prefixed<R>>>>>),
    Zstd(Box<Zstd<BufReader<Source<Prefixed<R>>>>>),
    Background(Background),
}

/// Reads the first bytes of `input` and puts the decoder they call for in front of it. An `xz`
/// or `bzip2` file is an error carrying [`Broken::Unsupported`].
pub(super) fn open<R: Read>(mut input: R) -> io::Result<Decoded<R>> {
    let mut head = [0; MAGIC];
    let mut len = 0;
    while len < MAGIC {
        match input.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let magic = &head[..len];
    // Skippable zstd frames (0x184D2A5?, little-endian) may come before the first data frame.
    let skippable = len >= 4 && magic[0] & 0xf0 == 0x50 && magic[1..4] == [0x2a, 0x4d, 0x18];
    let gzip = magic.starts_with(&[0x1f, 0x8b]);
    let zstd = magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || skippable;
    if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(broken(Broken::Unsupported("xz")));
    }
    if len == MAGIC && magic.starts_with(b"BZh") && magic[4..] == *b"1AY&SY" && magic[3].is_ascii_digit() {
        return Err(broken(Broken::Unsupported("bzip2")));
    }
    let input = Prefixed { head, at: 0, len, inner: input };
    if !gzip && !zstd {
        return Ok(Decoded::Plain(input));
    }
    let source = BufReader::with_capacity(INPUT_BUFFER, Source { inner: input, failed: None });
    Ok(if gzip {
        Decoded::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(source)))
    } else {
        Decoded::Zstd(Box::new(Zstd { source, decoder: FrameDecoder::new(), in_frame: false, tail: vec![], served: 0 }))
    })
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // A decoder's error is the input's own when the input failed; otherwise the stream's.
        match self {
            Decoded::Plain(input) => input.read(out),
            Decoded::Gzip(gzip) => gzip
                .read(out)
                .map_err(|_| gzip.get_mut().get_mut().failed.take().unwrap_or_else(|| broken(Broken::Corrupt("gzip")))),
            Decoded::Background(text) => text.read(out),
            Decoded::Zstd(zstd) => zstd.read(out).map_err(|e| {
                let failed = zstd.source.get_mut().failed.take();
                let window = e
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<Broken>())
                    .is_some_and(|b| matches!(b, Broken::Window(_)));
                failed.unwrap_or_else(|| if window { e } else { broken(Broken::Corrupt("zstd")) })
            }),
        }
    }
}

/// The text handed over at a time by a decoder on a thread of its own, and how many such buffers
/// may wait to be parsed.
const CHUNK: usize = 256 * 1024;
const WAITING: usize = 4;

impl<R: Read + Send + 'static> Decoded<R> {
    /// The decoder moved to a thread of its own, which hands the text over in buffers, in order,
    /// then an empty one at the end or the error it met; plain input stays as it is. The thread
    /// ends when the input does, or at its next buffer once the reader is dropped.
    pub(super) fn in_background(self) -> io::Result<Self> {
        if let Decoded::Plain(_) | Decoded::Background(_) = self {
            return Ok(self);
        }
        let (sender, text) = std::sync::mpsc::sync_channel(WAITING);
        let mut decoder = self;
        std::thread::Builder::new().name("logreg-decompress".into()).spawn(move || loop {
            let mut buffer = vec![0; CHUNK];
            let message = match decoder.read(&mut buffer) {
                Ok(n) => {
                    buffer.truncate(n);
                    Ok(buffer)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let last = !matches!(&message, Ok(b) if !b.is_empty());
            if sender.send(message).is_err() || last {
                return;
            }
        })?;
        Ok(Decoded::Background(Background { text, buffer: vec![], served: 0, done: false }))
    }
}

/// Text decoded on another thread ([`Decoded::in_background`]).
pub(super) struct Background {
    text: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    buffer: Vec<u8>,
    served: usize,
    /// The empty buffer that marks the end has come.
    done: bool,
}

impl Read for Background {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.served == self.buffer.len() {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            match self.text.recv() {
                Ok(Ok(buffer)) if buffer.is_empty() => self.done = true,
                Ok(Ok(buffer)) => (self.buffer, self.served) = (buffer, 0),
                Ok(Err(e)) => return Err(e),
                // Gone without its end mark: the thread panicked. Never taken for the end.
                Err(_) => return Err(io::Error::other("the decompressing thread stopped")),
            }
        }
        let n = (self.buffer.len() - self.served).min(out.len());
        out[..n].copy_from_slice(&self.buffer[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

/// The bytes read to recognise the format, then the rest of the input.
pub(super) struct Prefixed<R> {
    head: [u8; MAGIC],
    at: usize,
    len: usize,
    inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at < self.len {
            let n = (self.len - self.at).min(out.len());
            out[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(out)
    }
}

/// The compressed input under a decoder: keeps its read error (the decoder may wrap or replace it)
/// and retries interrupted reads, which a decoder may not survive.
pub(super) struct Source<R> {
    inner: R,
    failed: Option<io::Error>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(out) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kind = e.kind();
                    self.failed = Some(e);
                    return Err(io::Error::new(kind, "the compressed input could not be read"));
                }
                done => return done,
            }
        }
    }
}

/// Every zstd frame of `source` in turn, decoded a block (at most 128 KiB) at a time. The decoder
/// holds back a window of text until its frame ends; that last part is handed out only once the
/// frame's checksum matches, so a damaged frame smaller than its window gives no text at all.
pub(super) struct Zstd<B> {
    source: B,
    decoder: FrameDecoder,
    /// A frame has been started and its end not yet decoded.
    in_frame: bool,
    /// A finished frame's last text, checked, and how much of it is handed out.
    tail: Vec<u8>,
    served: usize,
}

impl<B: BufRead> Read for Zstd<B> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let corrupt = || broken(Broken::Corrupt("zstd"));
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.served < self.tail.len() {
                let n = (self.tail.len() - self.served).min(out.len());
                out[..n].copy_from_slice(&self.tail[self.served..self.served + n]);
                self.served += n;
                return Ok(n);
            }
            if self.in_frame {
                while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                    self.decoder
                        .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                        .map_err(|_| corrupt())?;
                }
                if !self.decoder.is_finished() {
                    // Text past the window: final, whatever follows.
                    return self.decoder.read(out);
                }
                // The frame's end: the rest of its text, and its checksum (if it has one) against it.
                self.tail = self.decoder.collect().unwrap_or_default();
                self.served = 0;
                if let Some(stored) = self.decoder.get_checksum_from_data() {
                    if self.decoder.get_calculated_checksum() != Some(stored) {
                        self.tail.clear();
                        return Err(corrupt());
                    }
                }
                self.in_frame = false;
                continue;
            }
            // Between frames: the end of the input, another frame, or a skippable frame.
            if self.source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            match self.decoder.reset(&mut self.source) {
                Ok(()) => self.in_frame = true,
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    let length = u64::from(length);
                    if io::copy(&mut (&mut self.source).take(length), &mut io::sink())? < length {
                        return Err(corrupt());
                    }
                }
                // A window zstd itself could have written (`--long=31` at most); larger is damage.
                Err(FrameDecoderError::WindowSizeTooBig { requested, .. }) if requested <= 1 << 31 => {
                    return Err(broken(Broken::Window(requested)))
                }
                Err(_) => return Err(corrupt()),
            }
        }
    }
}
