//! `logreg train`'s computation against PyTorch's (`reference.py train`) on the breast-cancer data.

use std::ops::ControlFlow;
use std::path::Path;

use logreg::data::table::{self, LabelColumn};
use logreg::reference::fixture::{load_data_dir, DataFixture, Deviation};
use logreg::reference::tutorial::TutorialRun;
use logreg::train::fit::fit;
use tch::Device;

pub fn data_fixtures() -> Vec<DataFixture> {
    let all = load_data_dir(&crate::fixtures_dir().join("data")).unwrap();
    assert!(all.len() >= 5, "only {} data fixtures", all.len());
    all
}

#[test]
fn every_penalty_on_breast_cancer_matches_pytorch() {
    let fixtures = data_fixtures();
    for penalty in ["none", "l1", "l2", "elastic-net"] {
        assert!(fixtures.iter().any(|f| f.config.penalty == penalty), "no {penalty} fixture");
    }
    for f in fixtures {
        let c = &f.config;
        let label = c.label.clone().map_or(LabelColumn::Last, LabelColumn::Named);
        let (file, bytes) = table::read_source(Path::new(&c.data)).unwrap();
        let data = table::parse(&file, &bytes, &label).unwrap();
        let fitted = fit(&data, &c.fit_config().unwrap(), Device::Cpu, logreg::train::Checkpoints::default(), |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        let weight: Vec<f64> = fitted.saved.model.coef().iter().map(|&w| f64::from(w)).collect();
        let actual = TutorialRun::from_parts(
            &fitted.training.losses,
            &fitted.training.validation_losses,
            &weight,
            f64::from(fitted.saved.model.intercept()),
        );
        let deviation = Deviation::between(&f.expected(), &actual);
        assert!(deviation.within(f.tolerance.cpu), "{}: {deviation:?}", f.name);
    }
}
