//! The golden configurations on CUDA, where libtorch has it (skipped, and says so, elsewhere).

use logreg::fixture::Deviation;
use logreg::tutorial;
use tch::Device;

#[test]
fn every_fixture_matches_pytorch_on_cuda() {
    if !tch::Cuda::is_available() {
        crate::notice("every_fixture_matches_pytorch_on_cuda: skipped, CUDA is not available");
        return;
    }
    let mut worst = (0.0f64, 0.0f64);
    for fixture in crate::fixtures() {
        let actual = tutorial::run(&fixture.config, Device::Cuda(0), |_, _| {}).unwrap();
        assert_eq!(actual.device, "cuda:0");
        let deviation = Deviation::between(&fixture.expected(), &actual);
        assert!(deviation.within(fixture.tolerance.cuda), "{}: {deviation:?}", fixture.name);
        worst = (worst.0.max(deviation.max_loss_rel), worst.1.max(deviation.max_weight_abs));
    }
    crate::notice(&format!(
        "CUDA vs PyTorch CPU fixtures: max rel loss diff {:.2e}, max weight diff {:.2e}",
        worst.0, worst.1
    ));
}
