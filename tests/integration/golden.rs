//! The Rust port against PyTorch's golden results, on the CPU.

use logreg::reference::fixture::Deviation;
use logreg::reference::tutorial;
use tch::Device;

#[test]
fn every_fixture_matches_pytorch_on_cpu() {
    for fixture in crate::fixtures() {
        let actual = tutorial::run(&fixture.config, Device::Cpu, |_, _| {}).unwrap();
        let deviation = Deviation::between(&fixture.expected(), &actual);
        assert!(deviation.within(fixture.tolerance.cpu), "{}: {deviation:?}", fixture.name);
        assert_eq!(actual.losses.len(), fixture.config.epochs as usize, "{}", fixture.name);
    }
}

#[test]
fn fixtures_cover_every_example_optimizer_and_the_edge_configurations() {
    let all = crate::fixtures();
    for example in ["l2", "l1", "elastic-net"] {
        for optimizer in ["sgd", "adam"] {
            let seeds: Vec<u64> = all
                .iter()
                .filter(|f| f.name.starts_with(&format!("{example}-{optimizer}-seed")))
                .map(|f| f.config.seed)
                .collect();
            assert!(seeds.contains(&0) && seeds.contains(&1), "{example}/{optimizer}: seeds {seeds:?}");
        }
    }
    assert!(all.iter().any(|f| f.config.samples >= 1000 && f.config.input_dim >= 50), "no large configuration");
    assert!(all.iter().any(|f| f.config.lambda == 0.0 && f.config.example != tutorial::Example::ElasticNet));
    assert!(all.iter().any(|f| f.config.epochs >= 1000), "no long run");
}
