//! Tables as people have them (issue 12): `;`, tab and `|` delimiters detected from the header,
//! decimal commas, gzip and zstd files (recognised by their bytes, not their names) and standard
//! input. Each trains to the very coefficients of the plain CSV file, and `predict`, `evaluate`
//! and `convert` read it; each rejection is one line, exit 2, and writes nothing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::cli::{logreg, stderr, stdout};

const FIXTURE: &str = "fixtures/breast_cancer.csv";

fn fixture() -> String {
    std::fs::read_to_string(FIXTURE).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
    out.write_all(bytes).unwrap();
    out.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `logreg args…` with `input` on standard input.
fn logreg_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(crate::cli::bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn succeeded(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", stderr(&out));
    stdout(&out)
}

/// `train --solver newton` on `data` with `flags`: the JSON report's coefficients and intercept.
fn trained(data: &str, flags: &[&str], model: &Path, stdin: Option<&[u8]>) -> (serde_json::Value, serde_json::Value) {
    let args =
        [&["train", "--data", data, "--solver", "newton", "--device", "cpu", "--json", "--out", path(model)], flags]
            .concat();
    let out = match stdin {
        Some(bytes) => logreg_with_stdin(&args, bytes),
        None => logreg(&args),
    };
    let json: serde_json::Value = serde_json::from_str(&succeeded(out, data)).unwrap();
    (json["coef"].clone(), json["intercept"].clone())
}

/// The breast-cancer fixture as people write it: (file name, content, flags it needs). The names
/// say nothing of the compression.
fn variants() -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    let text = fixture();
    let european = text.replace(',', ";").replace('.', ",");
    vec![
        ("semicolons.csv", european.clone().into_bytes(), vec!["--decimal-comma"]),
        ("tabs.tsv", text.replace(',', "\t").into_bytes(), vec![]),
        ("pipes.txt", text.replace(',', "|").into_bytes(), vec![]),
        ("gzipped.csv", gzip(text.as_bytes()), vec![]),
        ("zstd.csv", zstd(text.as_bytes()), vec![]),
        ("semicolons-gzipped.data", gzip(european.as_bytes()), vec!["--decimal-comma", "--delimiter", ";"]),
        ("tabs-zstd", zstd(text.replace(',', "\t").as_bytes()), vec!["--delimiter", "tab"]),
    ]
}

#[test]
fn every_delimiter_decimal_comma_and_compression_trains_to_the_plain_csv_coefficients() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let plain = trained(FIXTURE, &[], &model, None);
    assert_eq!(plain.0.as_array().map(Vec::len), Some(30));
    assert!(plain.0[0].as_f64().unwrap().abs() > 1e-3, "{}", plain.0);
    for (name, content, flags) in variants() {
        let file = dir.path().join(name);
        std::fs::write(&file, &content).unwrap();
        assert_eq!(trained(path(&file), &flags, &model, None), plain, "{name}");
        // The same bytes on standard input.
        assert_eq!(trained("-", &flags, &model, Some(&content)), plain, "{name} on standard input");
    }
    // `path` and `cv` read them too: the same λ path as the plain file's.
    let gz = dir.path().join("gzipped.csv");
    let semi = dir.path().join("semicolons.csv");
    let lambdas = |data: &Path, flags: &[&str]| {
        let args = [&["path", "--data", path(data), "--n-lambdas", "5", "--device", "cpu", "--json"], flags].concat();
        succeeded(logreg(&args), "path")
    };
    let reference = lambdas(Path::new(FIXTURE), &[]);
    assert!(reference.contains("lambda"), "{reference}");
    assert_eq!(lambdas(&gz, &[]), reference);
    assert_eq!(lambdas(&semi, &["--decimal-comma"]), reference);
}

#[test]
fn predict_evaluate_and_convert_read_every_delimiter_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    trained(FIXTURE, &[], &model, None);
    let predict = |data: &str, flags: &[&str]| {
        let args = [&["predict", "--model", path(&model), "--data", data, "--device", "cpu"], flags].concat();
        succeeded(logreg(&args), data)
    };
    let evaluate = |data: &str, flags: &[&str]| {
        let args =
            [&["evaluate", "--model", path(&model), "--data", data, "--device", "cpu", "--json"], flags].concat();
        succeeded(logreg(&args), data)
    };
    let (predicted, evaluated) = (predict(FIXTURE, &[]), evaluate(FIXTURE, &[]));
    assert_eq!(predicted.lines().count(), 570);
    assert!(evaluated.contains("\"rows\":569"), "{evaluated}");
    // convert: the plain file's .npy files, byte for byte.
    let convert = |input: &str, out: &str, flags: &[&str]| {
        let npy = dir.path().join(out);
        let args = [&["convert", input, path(&npy)], flags].concat();
        succeeded(logreg(&args), input);
        let labels = dir.path().join(out.replace(".npy", ".labels.npy"));
        (std::fs::read(&npy).unwrap(), std::fs::read(labels).unwrap())
    };
    let converted = convert(FIXTURE, "plain.npy", &[]);
    assert_eq!(converted.0.len(), 128 + 569 * 30 * 4);
    let text = fixture();
    // `predict` and `evaluate` read a delimiter and compression with no flag; (decimal commas
    // need --decimal-comma, which they take once score.rs flattens FormatArgs: see
    // `predict_and_evaluate_take_decimal_comma`).
    let plain_semicolons = text.replace(',', ";");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("semicolons.csv", plain_semicolons.clone().into_bytes()),
        ("tabs.tsv", text.replace(',', "\t").into_bytes()),
        ("pipes.txt", text.replace(',', "|").into_bytes()),
        ("gzipped.csv", gzip(text.as_bytes())),
        ("zstd.csv", zstd(text.as_bytes())),
        ("semicolons.zst", zstd(plain_semicolons.as_bytes())),
    ];
    for (i, (name, content)) in cases.iter().enumerate() {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        assert_eq!(predict(path(&file), &[]), predicted, "{name}");
        assert_eq!(evaluate(path(&file), &[]), evaluated, "{name}");
        assert_eq!(convert(path(&file), &format!("c{i}.npy"), &[]), converted, "{name}");
    }
    // convert takes the format flags, and standard input.
    for (name, content, flags) in variants() {
        let file = dir.path().join(name);
        std::fs::write(&file, &content).unwrap();
        assert_eq!(convert(path(&file), &format!("{name}.npy"), &flags), converted, "{name}");
    }
    let npy = dir.path().join("stdin.npy");
    let out = logreg_with_stdin(&["convert", "-", path(&npy)], &gzip(text.as_bytes()));
    succeeded(out, "convert -");
    assert_eq!(std::fs::read(&npy).unwrap(), converted.0);
}

/// `predict` and `evaluate` with `--decimal-comma`: they take the CSV format flags once
/// src/cli/score.rs flattens `FormatArgs` into `PredictArgs` and `EvaluateArgs`.
#[test]
fn predict_and_evaluate_take_decimal_comma() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    trained(FIXTURE, &[], &model, None);
    let european = dir.path().join("european.csv.gz");
    std::fs::write(&european, gzip(fixture().replace(',', ";").replace('.', ",").as_bytes())).unwrap();
    for command in ["predict", "evaluate"] {
        let run = |data: &str, flags: &[&str]| {
            let args = [&[command, "--model", path(&model), "--data", data, "--device", "cpu"], flags].concat();
            succeeded(logreg(&args), command)
        };
        assert_eq!(run(path(&european), &["--decimal-comma"]), run(FIXTURE, &[]), "{command}");
        assert_eq!(run(path(&european), &["--decimal-comma", "--delimiter", ";"]), run(FIXTURE, &[]), "{command}");
    }
}

/// `train`, `convert` and (`predict` when `predict`) on `input` with `flags`: exit 2, stderr exactly
/// `error: {expected}` (`{f}` standing for the input), nothing on stdout, nothing new in `dir`.
fn refused(dir: &Path, input: &Path, flags: &[&str], predict: bool, expected: &str) {
    let before = files_in(dir);
    let expected = format!("error: {}\n", expected.replace("{f}", path(input)));
    let (model, npy, out) = (dir.join("new.safetensors"), dir.join("new.npy"), dir.join("p.csv"));
    let existing = dir.join("m.safetensors");
    let mut runs: Vec<Vec<&str>> = vec![
        [&["train", "--data", path(input), "--out", path(&model), "--device", "cpu"], flags].concat(),
        [&["convert", path(input), path(&npy)], flags].concat(),
    ];
    if predict {
        runs.push(vec!["predict", "--model", path(&existing), "--data", path(input), "--out", path(&out)]);
        runs.push(vec!["evaluate", "--model", path(&existing), "--data", path(input)]);
    }
    for args in runs {
        let run = logreg(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert_eq!(stderr(&run), expected, "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {}", stdout(&run));
        assert_eq!(files_in(dir), before, "{args:?} left a file");
    }
}

/// A folder with a model trained on the fixture, and `name` holding `content`.
fn folder_with(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    trained(FIXTURE, &[], &dir.path().join("m.safetensors"), None);
    let input = dir.path().join(name);
    std::fs::write(&input, content).unwrap();
    (dir, input)
}

#[test]
fn an_ambiguous_or_single_column_header_says_which_delimiters_and_how_to_set_one() {
    let (dir, input) = folder_with("both.csv", b"a;b;c,d;y\n1;2;3,5;0\n4;5;6,5;1\n");
    refused(
        dir.path(),
        &input,
        &[],
        true,
        "{f}:1: ambiguous delimiter: the header splits into 4 fields on `;` and 2 on `,`; set --delimiter",
    );
    // Set, the delimiter is not detected: this one reads.
    let model = dir.path().join("both.safetensors");
    let out = logreg(&["train", "--data", path(&input), "--delimiter", ";", "--decimal-comma", "--out", path(&model)]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_file(&model).unwrap();
    let tie = dir.path().join("tie.csv");
    std::fs::write(&tie, "a,b|y\n1,2|0\n").unwrap();
    refused(
        dir.path(),
        &tie,
        &[],
        false,
        "{f}:1: ambiguous delimiter: the header splits into 2 fields on `,` and 2 on `|`; set --delimiter",
    );
    let spaces = dir.path().join("spaces.txt");
    std::fs::write(&spaces, "a b y\n1 2 0\n").unwrap();
    refused(
        dir.path(),
        &spaces,
        &[],
        false,
        "{f}:1:1: need at least one feature column and a label column: the header is one column whether split on \
         `,`, `;`, tab or `|` (all tried); set the delimiter with --delimiter",
    );
    let tabs = dir.path().join("tabs.tsv");
    std::fs::write(&tabs, "a\tb\ty\n1\t2\t0\n").unwrap();
    refused(
        dir.path(),
        &tabs,
        &["--delimiter", "|"],
        false,
        "{f}:1:1: need at least one feature column and a label column: the header is one column split on `|`, the \
         --delimiter given",
    );
    refused(
        dir.path(),
        &tabs,
        &["--delimiter", ":"],
        false,
        "invalid value ':' for '--delimiter <DELIMITER>': `:` is not a delimiter (one of `,` `;` tab `|`, or auto)",
    );
}

#[test]
fn a_decimal_comma_with_a_comma_delimiter_is_refused() {
    let (dir, input) = folder_with("plain.csv", fixture().as_bytes());
    refused(
        dir.path(),
        &input,
        &["--decimal-comma"],
        false,
        "{f}:1: --decimal-comma needs a delimiter other than `,`, and the header splits only on `,`; set --delimiter \
         (`;`, tab or `|`)",
    );
    refused(
        dir.path(),
        &input,
        &["--decimal-comma", "--delimiter", ","],
        false,
        "--decimal-comma needs a delimiter other than `,` (`;`, tab or `|`): with a decimal comma, `,` cannot also \
         separate cells",
    );
    // Without the flag, a decimal comma is not a number, and the message says which flag reads it.
    let european = dir.path().join("european.csv");
    std::fs::write(&european, fixture().replace(',', ";").replace('.', ",")).unwrap();
    refused(
        dir.path(),
        &european,
        &[],
        true,
        "{f}:2:1: `17,99` is not a number (for a decimal comma, use --decimal-comma) (column `mean radius`)",
    );
    // With it, a point is refused (`1.234,5` is a thousands separator, most likely).
    let dots = dir.path().join("dots.csv");
    std::fs::write(&dots, "a;b;y\n1,5;2;0\n1.234,5;2;1\n").unwrap();
    refused(
        dir.path(),
        &dots,
        &["--decimal-comma"],
        false,
        "{f}:3:1: `1.234,5` is not a number (with --decimal-comma, `,` is the decimal mark and `.` is refused) \
         (column `a`)",
    );
}

#[test]
fn a_truncated_gzip_or_corrupt_zstd_file_names_the_line_it_reached() {
    let text = fixture();
    let gz = gzip(text.as_bytes());
    let cut = &gz[..gz.len() / 2];
    // The lines a decoder gives before the cut: the message names the last of them.
    let mut given = vec![];
    assert!(flate2::read::MultiGzDecoder::new(cut).read_to_end(&mut given).is_err());
    let lines = given.iter().filter(|&&b| b == b'\n').count();
    assert!((100..500).contains(&lines), "{lines}");
    let (dir, input) = folder_with("cut.csv.gz", cut);
    refused(dir.path(), &input, &[], true, &format!("{{f}}: gzip stream corrupt or truncated after line {lines}"));
    // On standard input, too.
    let out = logreg_with_stdin(&["train", "--data", "-", "--out", path(&dir.path().join("x.safetensors"))], cut);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), format!("error: <stdin>: gzip stream corrupt or truncated after line {lines}\n"));
    // Two zstd frames, the second damaged: the first's 560 lines were read, none of the second's.
    let at = text.match_indices('\n').nth(559).unwrap().0 + 1;
    let mut second = zstd(&text.as_bytes()[at..]);
    let middle = second.len() / 2;
    second[middle] ^= 0x55;
    let damaged = [zstd(&text.as_bytes()[..at]), second].concat();
    let damaged_file = dir.path().join("damaged.zst");
    std::fs::write(&damaged_file, damaged).unwrap();
    refused(dir.path(), &damaged_file, &[], true, "{f}: zstd stream corrupt or truncated after line 560");
    let junk = dir.path().join("junk.zst");
    std::fs::write(&junk, [&[0x28, 0xb5, 0x2f, 0xfd][..], &[0xff; 40]].concat()).unwrap();
    refused(dir.path(), &junk, &[], false, "{f}: zstd stream corrupt or truncated before the end of line 1");
}
