//! Data-parallel work across processes: the launcher's environment (torchrun's RANK, WORLD_SIZE,
//! MASTER_ADDR, MASTER_PORT) read into a [`Launch`], and, with the `dist` feature, a [`World`] on
//! torch's c10d (a TCPStore rendezvous and a Gloo process group) that sums f64 buffers over all
//! processes.

use crate::error::{Error, Result};

/// The most processes a world may have (a typo guard; c10d takes `int` ranks).
const MAX_WORLD: usize = 1 << 20;

/// Where this process stands in a launch, from the launcher's environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// This process's rank, 0 … size − 1.
    pub rank: usize,
    /// The number of processes.
    pub size: usize,
    /// Rank 0's address, where the rendezvous store listens.
    pub addr: String,
    /// The store's port.
    pub port: u16,
    /// The launcher's agent serves the store (torchrun's `TORCHELASTIC_USE_AGENT_STORE=True`):
    /// rank 0 joins it as a client instead of serving one.
    pub agent_store: bool,
    /// The launch attempt (torchrun's `TORCHELASTIC_RESTART_COUNT`, else 0): the store's keys go
    /// under it, so a restarted group does not meet the last attempt's keys.
    pub attempt: u32,
}

impl Launch {
    /// The launch the process environment describes: `None` outside a launcher (no `WORLD_SIZE`)
    /// or in a world of one; an error, naming the variable, when the environment is partial or
    /// malformed (a world size without a rendezvous address must not become a silent
    /// single-process run).
    pub fn from_env() -> Result<Option<Launch>> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Launch::from_env`], from any lookup of variables (tests).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>> {
        let bad = |name: &'static str, value: &str, expected: &'static str| Error::InvalidSetting {
            name,
            value: crate::data::table::shown(value),
            expected,
        };
        let Some(size) = get("WORLD_SIZE") else {
            return match get("RANK") {
                Some(rank) => Err(bad("RANK", &rank, "set without WORLD_SIZE: set both, as torchrun does")),
                None => Ok(None),
            };
        };
        let size: usize = match size.trim().parse() {
            Ok(s) if (1..=MAX_WORLD).contains(&s) => s,
            _ => return Err(bad("WORLD_SIZE", &size, "must be a whole number from 1 to 1048576")),
        };
        let rank = get("RANK").ok_or_else(|| bad("RANK", "unset", "must be set with WORLD_SIZE"))?;
        let rank: usize = match rank.trim().parse() {
            Ok(r) if r < size => r,
            _ => return Err(bad("RANK", &rank, "must be a whole number below WORLD_SIZE")),
        };
        if size == 1 {
            return Ok(None);
        }
        let addr = get("MASTER_ADDR").ok_or_else(|| bad("MASTER_ADDR", "unset", "must be set with WORLD_SIZE > 1"))?;
        if addr.trim().is_empty() {
            return Err(bad("MASTER_ADDR", &addr, "must name rank 0's host"));
        }
        let port = get("MASTER_PORT").ok_or_else(|| bad("MASTER_PORT", "unset", "must be set with WORLD_SIZE > 1"))?;
        let port: u16 = match port.trim().parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(bad("MASTER_PORT", &port, "must be a port number from 1 to 65535")),
        };
        let agent_store = get("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v == "True");
        let attempt = get("TORCHELASTIC_RESTART_COUNT").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        Ok(Some(Launch { rank, size, addr: addr.trim().to_string(), port, agent_store, attempt }))
    }
}

#[cfg(feature = "dist")]
mod world;
#[cfg(feature = "dist")]
pub use world::{ask_to_stop, World};

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(vars: &[(&str, &str)]) -> Result<Option<Launch>> {
        Launch::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_launchers_environment_is_read_whole_or_refused() {
        assert_eq!(launch(&[]).unwrap(), None);
        assert_eq!(launch(&[("WORLD_SIZE", "1"), ("RANK", "0")]).unwrap(), None);
        let full = [("WORLD_SIZE", "4"), ("RANK", "3"), ("MASTER_ADDR", "node1"), ("MASTER_PORT", "29500")];
        let expected = Launch { rank: 3, size: 4, addr: "node1".into(), port: 29500, agent_store: false, attempt: 0 };
        assert_eq!(launch(&full).unwrap(), Some(expected.clone()));
        let agent =
            [&full[..], &[("TORCHELASTIC_USE_AGENT_STORE", "True"), ("TORCHELASTIC_RESTART_COUNT", "2")]].concat();
        assert_eq!(launch(&agent).unwrap(), Some(Launch { agent_store: true, attempt: 2, ..expected }));
        for (vars, expected) in [
            (&[("RANK", "0")][..], "invalid RANK: 0 (set without WORLD_SIZE"),
            (&[("WORLD_SIZE", "2"), ("RANK", "0")][..], "invalid MASTER_ADDR: unset"),
            (&[("WORLD_SIZE", "2"), ("RANK", "0"), ("MASTER_ADDR", "h")][..], "invalid MASTER_PORT: unset"),
            (&[("WORLD_SIZE", "2")][..], "invalid RANK: unset"),
            (&[("WORLD_SIZE", "2"), ("RANK", "2")][..], "invalid RANK: 2 (must be a whole number below WORLD_SIZE"),
            (&[("WORLD_SIZE", "0"), ("RANK", "0")][..], "invalid WORLD_SIZE: 0"),
            (&[("WORLD_SIZE", "x"), ("RANK", "0")][..], "invalid WORLD_SIZE: x"),
            (
                &[("WORLD_SIZE", "2"), ("RANK", "1"), ("MASTER_ADDR", "h"), ("MASTER_PORT", "70000")][..],
                "invalid MASTER_PORT: 70000",
            ),
        ] {
            let e = launch(vars).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{vars:?}: {e}");
        }
    }
}
