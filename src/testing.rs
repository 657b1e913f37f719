//! Test support shared by the parsers' tests: edits of a valid file's bytes, and `.npy` files
//! built in memory.

use proptest::prelude::*;

/// One edit: kind (0 replace, 1 insert, 2 remove, 3 cut), a position (taken modulo the length)
/// and a byte.
pub(crate) type ByteEdit = (usize, usize, u8);

/// 1 to 5 edits of any kind, anywhere, with any byte.
pub(crate) fn byte_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    proptest::collection::vec((0usize..4, any::<usize>(), any::<u8>()), 1..6)
}

/// `bytes` with `edits` applied in order.
pub(crate) fn edited(mut bytes: Vec<u8>, edits: &[ByteEdit]) -> Vec<u8> {
    for &(kind, at, byte) in edits {
        let at = at % (bytes.len() + 1);
        match kind {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// An `.npy` file as `numpy.save` writes it (version 1, header padded to 64 bytes) of `data`
/// with dtype `descr` and `shape` (Python's tuple text).
pub(crate) fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// `size` ranks as threads of this process, each joined to its own c10d group on a free port,
/// each running `work` (the distributed code's tests).
#[cfg(feature = "dist")]
pub(crate) fn ranks<T: Send>(size: usize, work: impl Fn(&mut crate::dist::World) -> T + Sync) -> Vec<T> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = (0..size)
            .map(|rank| {
                s.spawn(move || {
                    let launch = crate::dist::Launch {
                        rank,
                        size,
                        addr: "127.0.0.1".into(),
                        port,
                        agent_store: false,
                        attempt: 0,
                    };
                    let mut world = crate::dist::World::join(launch, std::time::Duration::from_secs(30)).unwrap();
                    work(&mut world)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}
