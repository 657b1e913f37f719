//! Training data: the tutorial's seeded synthetic sample.

use tch::{Device, Kind, Tensor};

use crate::error::Result;

/// `X = torch.randn(samples, input_dim)` then `y = torch.randint(0, 2, (samples, 1)).float()`,
/// drawn from the CPU generator in that order, as the tutorial does.
pub fn tutorial_sample(samples: i64, input_dim: i64) -> Result<(Tensor, Tensor)> {
    let x = Tensor::f_randn([samples, input_dim], (Kind::Float, Device::Cpu))?;
    let y = Tensor::f_randint(2, [samples, 1], (Kind::Int64, Device::Cpu))?.f_to_kind(Kind::Float)?;
    Ok((x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_has_the_tutorial_shapes_and_binary_labels() {
        let (x, y) = crate::seed::with_seed(0, || tutorial_sample(100, 10)).unwrap();
        assert_eq!((x.size(), y.size()), (vec![100, 10], vec![100, 1]));
        let labels = Vec::<f32>::try_from(y.flatten(0, -1)).unwrap();
        assert!(labels.iter().all(|&v| v == 0.0 || v == 1.0));
        assert!(labels.contains(&0.0) && labels.contains(&1.0));
    }
}
