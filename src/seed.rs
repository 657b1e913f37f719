//! libtorch's process-wide random generator: seeded and drawn from by one caller at a time.
//!
//! `torch.manual_seed` reseeds a generator shared by every thread, so two threads that seed and
//! draw at once get each other's numbers. Every seeded draw in this crate goes through [`with_seed`].

use std::sync::Mutex;

static GENERATOR: Mutex<()> = Mutex::new(());

/// Seeds the generators as `torch.manual_seed(seed)` does (seeds up to 2⁶⁴−1 wrap as in PyTorch),
/// then runs `draw` while no other `with_seed` caller can seed or draw.
pub fn with_seed<T>(seed: u64, draw: impl FnOnce() -> T) -> T {
    // A panic inside another caller's draw leaves nothing to repair: the next caller reseeds.
    let _guard = GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed as i64);
    draw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn concurrent_seeded_draws_do_not_disturb_each_other() {
        let draw = |seed| {
            with_seed(seed, || Vec::<f32>::try_from(Tensor::randn([64], (Kind::Float, tch::Device::Cpu))).unwrap())
        };
        let expected: Vec<_> = (0..8).map(draw).collect();
        let threads: Vec<_> =
            (0..8u64).map(|s| std::thread::spawn(move || (0..50).map(|_| draw(s)).collect::<Vec<_>>())).collect();
        for (seed, t) in threads.into_iter().enumerate() {
            assert!(t.join().unwrap().iter().all(|v| *v == expected[seed]), "seed {seed} was disturbed");
        }
    }
}
