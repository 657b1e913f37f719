//! `train --resume` handed what is not its checkpoint: a model file, a device, a huge file, a cut,
//! edited, foreign or older checkpoint, a cut, edited, foreign or missing loss file. Each ends with
//! exit 2 and one line naming the file, and leaves the model file of an earlier run as it was.

use std::path::{Path, PathBuf};

use crate::cli::{logreg, stderr, stdout};

const BREAST_CANCER: &str = "fixtures/breast_cancer.csv";

fn common() -> Vec<&'static str> {
    vec!["train", "--data", BREAST_CANCER, "--solver", "sgd", "--seed", "2", "--device", "cpu", "--quiet"]
}

/// A folder with `run.ckpt` (epoch 10 of 11: the run's only save, so written at once) and its
/// loss file, and `model.safetensors` from an earlier run, whose bytes every refusal must keep.
struct Setup {
    dir: tempfile::TempDir,
    ckpt: PathBuf,
    model: PathBuf,
    model_bytes: Vec<u8>,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = dir.path().join("run.ckpt");
        let model = dir.path().join("model.safetensors");
        let first = dir.path().join("first.safetensors");
        let run = |extra: &[&str]| {
            let out = logreg(&[&common()[..], extra].concat());
            assert!(out.status.success(), "{}", stderr(&out));
        };
        let (ckpt_s, first_s) = (ckpt.to_str().unwrap(), first.to_str().unwrap());
        run(&["--epochs", "11", "--checkpoint-every", "10", "--checkpoint", ckpt_s, "--out", first_s]);
        run(&["--epochs", "20", "--out", model.to_str().unwrap()]);
        let model_bytes = std::fs::read(&model).unwrap();
        Self { dir, ckpt, model, model_bytes }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `bad.ckpt` and `bad.ckpt.losses`: copies of the good pair, the checkpoint's text through
    /// `edit_ckpt` and the loss file's bytes through `edit_losses`.
    fn edited(&self, edit_ckpt: impl Fn(&[u8]) -> Vec<u8>, edit_losses: impl Fn(&[u8]) -> Vec<u8>) -> PathBuf {
        let bad = self.path("bad.ckpt");
        std::fs::write(&bad, edit_ckpt(&std::fs::read(&self.ckpt).unwrap())).unwrap();
        let losses = std::fs::read(losses_of(&self.ckpt)).unwrap();
        std::fs::write(losses_of(&bad), edit_losses(&losses)).unwrap();
        bad
    }

    /// Resumes from `ckpt` into the earlier run's model file: it must end with exit 2 and the
    /// one line `error: --resume: ` + `expected` (or starting so when `expected` ends in `…`),
    /// and the model file must keep its bytes.
    fn refused(&self, ckpt: &Path, expected: &str) {
        let out = logreg(
            &[
                &common()[..],
                &["--epochs", "20", "--resume", ckpt.to_str().unwrap(), "--out", self.model.to_str().unwrap()],
            ]
            .concat(),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{ckpt:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{ckpt:?}: {err}");
        let err = err.trim_end();
        match expected.strip_suffix('…') {
            Some(start) => assert!(err.starts_with(&format!("error: --resume: {start}")), "{err}"),
            None => assert_eq!(err, format!("error: --resume: {expected}")),
        }
        assert_eq!(std::fs::read(&self.model).unwrap(), self.model_bytes, "{ckpt:?}: the model file changed");
    }
}

fn losses_of(ckpt: &Path) -> PathBuf {
    let mut name = ckpt.as_os_str().to_owned();
    name.push(".losses");
    PathBuf::from(name)
}

/// A change made to a file's bytes.
type Edit = Box<dyn Fn(&[u8]) -> Vec<u8>>;

fn same(bytes: &[u8]) -> Vec<u8> {
    bytes.to_vec()
}

/// The checkpoint's JSON with `edit` applied.
fn json_edit(edit: impl Fn(&mut serde_json::Value)) -> impl Fn(&[u8]) -> Vec<u8> {
    move |bytes| {
        let mut json: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        edit(&mut json);
        json.to_string().into_bytes()
    }
}

#[test]
fn a_resumed_run_ignores_a_partial_record_after_its_checkpoint_and_ends_as_an_uninterrupted_one() {
    let s = Setup::new();
    // A run killed in the middle of appending epoch 11's loss.
    let bad = s.edited(same, |losses| [losses, &[0x3f, 0xe0, 0x12]].concat());
    let run = |extra: &[&str]| {
        let out = logreg(&[&common()[..], &["--epochs", "20", "--json"], extra].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let full = run(&["--out", s.path("full.safetensors").to_str().unwrap()]);
    let resumed = run(&["--out", s.path("resumed.safetensors").to_str().unwrap(), "--resume", bad.to_str().unwrap()]);
    assert_eq!(full["losses"].as_array().unwrap().len(), 20);
    for key in ["coef", "intercept", "losses"] {
        assert_eq!(full[key], resumed[key], "{key}");
    }
}

#[test]
fn files_that_are_not_checkpoints_are_refused_without_reading_them_whole() {
    let s = Setup::new();
    let first = s.path("first.safetensors");
    s.refused(&first, &format!("{}: not a logreg checkpoint (binary content, not JSON text)", first.display()));
    s.refused(Path::new("/dev/zero"), "/dev/zero: not a logreg checkpoint (binary content, not JSON text)");
    // A terabyte of zeros (sparse): read just past what a checkpoint of 30 features can hold.
    let huge = s.path("huge.ckpt");
    std::fs::File::create(&huge).unwrap().set_len(1 << 40).unwrap();
    s.refused(&huge, &format!("{}: not a logreg checkpoint (binary content, not JSON text)", huge.display()));
    let long = format!("{{\"format\": {}\"logreg-checkpoint\"}}", " ".repeat(10 << 20));
    std::fs::write(&huge, &long).unwrap();
    s.refused(
        &huge,
        &format!(
            "{}: not a logreg checkpoint ({} bytes; one of 30 features holds at most …",
            huge.display(),
            long.len()
        ),
    );
    let foreign = s.path("foreign.json");
    std::fs::write(&foreign, br#"{"format": "something else", "state": {"epoch": 3}}"#).unwrap();
    s.refused(
        &foreign,
        &format!("{}: not a logreg checkpoint (no \"format\": \"logreg-checkpoint\")", foreign.display()),
    );
    let dir = s.path("a-folder");
    std::fs::create_dir(&dir).unwrap();
    s.refused(&dir, &format!("{}: Is a directory (os error 21)", dir.display()));
    // The model may not be written over the checkpoint it resumes from.
    let ckpt_bytes = std::fs::read(&s.ckpt).unwrap();
    let out = logreg(
        &[&common()[..], &["--epochs", "20", "--resume", s.ckpt.to_str().unwrap(), "--out", s.ckpt.to_str().unwrap()]]
            .concat(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        format!("error: --out {}: the same file as --resume, which it would overwrite", s.ckpt.display())
    );
    assert_eq!(std::fs::read(&s.ckpt).unwrap(), ckpt_bytes);
}

#[test]
fn cut_edited_and_older_checkpoints_are_refused_in_one_line() {
    let s = Setup::new();
    let bad = s.path("bad.ckpt");
    let name = bad.display().to_string();
    let edited = format!("{name}: damaged checkpoint (its checksum does not match its contents: edited?)");
    let cases: Vec<(Edit, String)> = vec![
        (
            Box::new(|b: &[u8]| b[..b.len() / 2].to_vec()),
            format!("{name}: not a logreg checkpoint (EOF while parsing …"),
        ),
        (
            Box::new(|b: &[u8]| b[..b.len() - 1].to_vec()),
            format!("{name}: not a logreg checkpoint (EOF while parsing …"),
        ),
        (
            Box::new(json_edit(|j| j["state"]["weight"][3] = (j["state"]["weight"][3].as_u64().unwrap() + 1).into())),
            edited.clone(),
        ),
        (Box::new(json_edit(|j| j["state"]["epoch"] = 9.into())), edited.clone()),
        (Box::new(json_edit(|j| j["state"]["step"] = 1000.into())), edited.clone()),
        (Box::new(json_edit(|j| j["state"]["losses"] = 9.into())), edited.clone()),
        (Box::new(json_edit(|j| j["checksum"] = 12345.into())), edited.clone()),
        (
            Box::new(json_edit(|j| j["state"]["weight"] = serde_json::json!("0.1\n0.2"))),
            format!("{name}: damaged checkpoint (invalid type: string \"0.1\\n0.2\", expected a sequence)"),
        ),
        (
            Box::new(json_edit(|j| j["state"]["bias"] = serde_json::json!(-1))),
            format!("{name}: damaged checkpoint (invalid value: integer `-1`, expected u32…"),
        ),
        (
            Box::new(json_edit(|j| j["fingerprint"] = "another run".into())),
            format!("{name}: the checkpoint was written for other data or settings (only the epochs may change)"),
        ),
        (
            // A checkpoint as logreg wrote them before the loss file (format 1).
            Box::new(json_edit(|j| {
                *j = serde_json::json!({
                    "format": "logreg-checkpoint", "format_version": 1, "fingerprint": j["fingerprint"],
                    "state": {"epoch": 10, "weight": [0.5], "bias": 0.0, "losses": [0.7], "validation_losses": []},
                })
            })),
            format!("{name}: written by an older logreg; start again without --resume"),
        ),
        (
            // The same with the losses of 20,000 epochs: longer than a checkpoint now can be.
            Box::new(json_edit(|j| {
                *j = serde_json::json!({
                    "format": "logreg-checkpoint", "format_version": 1, "fingerprint": j["fingerprint"],
                    "state": {"epoch": 20000, "weight": [0.5], "bias": 0.0, "losses": vec![0.25; 20000],
                              "validation_losses": []},
                })
            })),
            format!("{name}: written by an older logreg; start again without --resume"),
        ),
    ];
    for (edit, expected) in cases {
        s.refused(&s.edited(edit, same), &expected);
    }
}

#[test]
fn cut_edited_foreign_or_missing_loss_files_are_refused_in_one_line() {
    let s = Setup::new();
    let side = losses_of(&s.path("bad.ckpt")).display().to_string();
    let mismatch = format!("{side}: the losses do not match the checkpoint's (edited, or written by another run)");
    let cases: Vec<(Edit, String)> = vec![
        (
            Box::new(|b: &[u8]| b[..b.len() - 1].to_vec()),
            format!("{side}: holds the losses of 9 epochs, not the checkpoint's 10 (cut short?)"),
        ),
        (
            Box::new(|b: &[u8]| b[..10].to_vec()),
            format!("{side}: holds the losses of 0 epochs, not the checkpoint's 10 (cut short?)"),
        ),
        (
            Box::new(|b: &[u8]| {
                let mut b = b.to_vec();
                b[16 + 3 * 8] ^= 1;
                b
            }),
            mismatch.clone(),
        ),
        // Two epochs' losses swapped: every value is right, their order is not.
        (
            Box::new(|b: &[u8]| {
                let mut b = b.to_vec();
                let (first, second) = (16 + 2 * 8, 16 + 5 * 8);
                let saved: Vec<u8> = b[first..first + 8].to_vec();
                b.copy_within(second..second + 8, first);
                b[second..second + 8].copy_from_slice(&saved);
                b
            }),
            mismatch.clone(),
        ),
        (
            Box::new(|b: &[u8]| [&b"LOGREG-LOSSES 2\n"[..], &b[16..]].concat()),
            format!("{side}: not a logreg loss file"),
        ),
    ];
    for (edit, expected) in cases {
        s.refused(&s.edited(same, edit), &expected);
    }
    // Another run's loss file, as long: its losses differ.
    let other = s.path("other.ckpt");
    let out = logreg(
        &[
            &common()[..],
            &["--epochs", "11", "--lr", "0.02", "--checkpoint-every", "10", "--checkpoint", other.to_str().unwrap()],
            &["--out", s.path("other.safetensors").to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = s.edited(same, |_| std::fs::read(losses_of(&other)).unwrap());
    s.refused(&bad, &mismatch);
    std::fs::remove_file(losses_of(&bad)).unwrap();
    s.refused(
        &bad,
        &format!("{side}: the checkpoint's loss file cannot be read (No such file or directory (os error 2))"),
    );
    std::os::unix::fs::symlink("/dev/zero", losses_of(&bad)).unwrap();
    s.refused(&bad, &format!("{side}: the checkpoint's loss file is not a regular file"));
}
