//! A c10d process group (Gloo over TCP, rendezvous in rank 0's TCPStore) through
//! `c10d_shim.cpp`: the one collective the solvers need, a sum of f64 buffers.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Launch;
use crate::error::{Error, Result};

extern "C" {
    fn logreg_dist_last_error() -> *const c_char;
    fn logreg_dist_init(
        host: *const c_char,
        port: c_int,
        rank: c_int,
        world: c_int,
        agent_store: c_int,
        prefix: *const c_char,
        timeout_ms: i64,
        out: *mut *mut c_void,
    ) -> c_int;
    fn logreg_dist_allreduce_sum_f64(handle: *mut c_void, values: *mut f64, len: i64) -> c_int;
    fn logreg_dist_free(handle: *mut c_void);
}

/// This process's membership of a launched world.
pub struct World {
    handle: *mut c_void,
    /// Where this process stands.
    pub launch: Launch,
    /// Collectives run so far, and the seconds spent in them (waiting for the slowest rank
    /// included): the share of a run spent communicating.
    calls: usize,
    seconds: f64,
}

// SAFETY: the process group is used from one thread at a time (`&mut self` for collectives).
unsafe impl Send for World {}

/// This rank was asked to stop (its Ctrl-C handler), not yet voted on.
static ASKED: AtomicBool = AtomicBool::new(false);

/// Asks the world to stop (a signal handler may call it): the request rides on this rank's next
/// collective, where every rank sets [`crate::interrupt::request`] at once, so that all stop at
/// the same iteration or epoch instead of one leaving the others waiting in a sum.
pub fn ask_to_stop() {
    ASKED.store(true, Ordering::SeqCst);
}

fn failed(step: &'static str, rank: usize) -> Error {
    // SAFETY: the shim returns a NUL-terminated thread-local string.
    let message = unsafe { CStr::from_ptr(logreg_dist_last_error()) }.to_string_lossy().into_owned();
    Error::Distributed { step, rank, message }
}

impl World {
    /// Joins `launch`'s world: waits for every process at most `timeout`, which also bounds each
    /// collective afterwards (so a dead rank ends the others within it).
    pub fn join(launch: Launch, timeout: Duration) -> Result<Self> {
        let host = CString::new(launch.addr.as_str()).map_err(|_| Error::InvalidSetting {
            name: "MASTER_ADDR",
            value: crate::data::table::shown(&launch.addr),
            expected: "a host name without NUL",
        })?;
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let prefix = CString::new(format!("logreg/{}", launch.attempt)).expect("digits hold no NUL");
        let mut handle = std::ptr::null_mut();
        // SAFETY: NUL-terminated strings and an out-pointer to a local; rank < world ≤ 2^20 fit c_int.
        let rc = unsafe {
            logreg_dist_init(
                host.as_ptr(),
                c_int::from(launch.port),
                launch.rank as c_int,
                launch.size as c_int,
                c_int::from(launch.agent_store),
                prefix.as_ptr(),
                ms,
                &mut handle,
            )
        };
        if rc != 0 {
            return Err(failed("joining the process group", launch.rank));
        }
        Ok(Self { handle, launch, calls: 0, seconds: 0.0 })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.launch.rank
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        self.launch.size
    }

    /// Collectives run so far and the seconds spent in them.
    pub fn communication(&self) -> (usize, f64) {
        (self.calls, self.seconds)
    }

    /// Every rank's `values` (each rank the same length), in rank order: a sum in which each rank
    /// fills only its own slot (exact: the other terms are zeros).
    pub fn gather(&mut self, values: &[f64]) -> Result<Vec<Vec<f64>>> {
        let k = values.len();
        let mut all = vec![0.0; k * self.size()];
        all[k * self.rank()..k * (self.rank() + 1)].copy_from_slice(values);
        self.sum(&mut all)?;
        Ok(all.chunks(k.max(1)).map(<[f64]>::to_vec).collect())
    }

    /// Every rank's `bytes` (any lengths), in rank order: the lengths gathered, then one sum in
    /// which each rank fills its own slot with its bytes (each a small whole f64: exact).
    pub fn gather_bytes(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
        let lengths: Vec<usize> = self.gather(&[bytes.len() as f64])?.iter().map(|l| l[0] as usize).collect();
        let start: usize = lengths[..self.rank()].iter().sum();
        let mut all = vec![0.0; lengths.iter().sum()];
        all[start..start + bytes.len()].iter_mut().zip(bytes).for_each(|(a, &b)| *a = f64::from(b));
        if !all.is_empty() {
            self.sum(&mut all)?;
        }
        let mut at = 0;
        Ok(lengths
            .iter()
            .map(|&k| {
                at += k;
                all[at - k..at].iter().map(|&b| b as u8).collect()
            })
            .collect())
    }

    /// Whether every rank got here without failing: `local` (this rank's outcome) when all did;
    /// else an error on every rank naming the first rank that failed (its own message on that
    /// rank, which prints it), so that no rank waits on a peer that has stopped.
    pub fn agree<T>(&mut self, step: &'static str, local: std::result::Result<T, String>) -> Result<T> {
        let failed = self.gather(&[f64::from(u8::from(local.is_err()))])?;
        let first = failed.iter().position(|f| f[0] != 0.0);
        match (local, first) {
            (Ok(value), None) => Ok(value),
            (Err(message), _) => Err(Error::Distributed { step, rank: self.rank(), message }),
            (Ok(_), Some(other)) => Err(Error::Distributed {
                step,
                rank: self.rank(),
                message: format!("rank {other} failed (its own line says why); stopping"),
            }),
        }
    }

    /// `values` summed element-wise over every process, in place (the same order of additions
    /// on every rank, so every rank ends with the same bits).
    /// Every sum carries one more value, the ranks' votes to stop ([`ask_to_stop`]).
    pub fn sum(&mut self, values: &mut [f64]) -> Result<()> {
        let mut buffer = Vec::with_capacity(values.len() + 1);
        buffer.extend_from_slice(values);
        buffer.push(f64::from(u8::from(ASKED.load(Ordering::SeqCst))));
        let len = i64::try_from(buffer.len()).expect("a slice length fits i64");
        let started = std::time::Instant::now();
        // SAFETY: `buffer` is a live, exclusive buffer of `len` f64s for the call's duration.
        let rc = unsafe { logreg_dist_allreduce_sum_f64(self.handle, buffer.as_mut_ptr(), len) };
        self.calls += 1;
        self.seconds += started.elapsed().as_secs_f64();
        if rc != 0 {
            return Err(failed("summing over the processes", self.launch.rank));
        }
        values.copy_from_slice(&buffer[..values.len()]);
        if buffer[values.len()] > 0.0 {
            crate::interrupt::request();
        }
        Ok(())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // SAFETY: the handle came from logreg_dist_init and is freed once.
        unsafe { logreg_dist_free(self.handle) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two ranks (threads of this process, each with its own group) sum their buffers; a rank
    /// whose peer never comes fails within the timeout, naming itself.
    #[test]
    fn two_ranks_sum_their_buffers_and_a_missing_peer_times_out() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let launch = |rank| Launch { rank, size: 2, addr: "127.0.0.1".into(), port, agent_store: false, attempt: 0 };
        let sums: Vec<Vec<f64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|rank| {
                    s.spawn(move || {
                        let mut world = World::join(launch(rank), Duration::from_secs(30)).unwrap();
                        let mut v = vec![rank as f64 + 0.5, 1e300 * rank as f64, -1.0];
                        world.sum(&mut v).unwrap();
                        let gathered = world.gather(&[rank as f64, 7.0]).unwrap();
                        assert_eq!(gathered, vec![vec![0.0, 7.0], vec![1.0, 7.0]]);
                        let mine: &[u8] = if rank == 0 { b"" } else { b"\xffab" };
                        assert_eq!(world.gather_bytes(mine).unwrap(), vec![b"".to_vec(), b"\xffab".to_vec()]);
                        let e = world.agree("checking", if rank == 1 { Err("bad shard".into()) } else { Ok(()) });
                        let expected = match rank {
                            0 => "rank 0: checking: rank 1 failed (its own line says why); stopping",
                            _ => "rank 1: checking: bad shard",
                        };
                        assert_eq!(e.unwrap_err().to_string(), expected);
                        assert_eq!(world.communication().0, 5);
                        v
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(sums[0], vec![2.0, 1e300, -2.0]);
        assert_eq!(sums[0], sums[1]);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let alone = Launch { rank: 0, size: 2, addr: "127.0.0.1".into(), port, agent_store: false, attempt: 0 };
        let started = std::time::Instant::now();
        let e = World::join(alone, Duration::from_secs(2)).err().expect("no peer").to_string();
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
        assert!(e.starts_with("rank 0: joining the process group: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
