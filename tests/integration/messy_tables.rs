//! Tables as people have them, the rest of issue 12: text labels and the positive class, ID
//! columns, chosen and dropped columns, missing values and categorical columns, all recorded in
//! the model and reapplied by `predict` and `evaluate` (the same scores to the bit); each
//! rejection is one line, exit 2, and writes nothing.

use std::path::Path;

use crate::cli::{logreg, ok, stderr, stdout};

const PATIENTS: &str = "fixtures/messy/patients.csv.gz";
const NEW_PATIENTS: &str = "fixtures/messy/new_patients.csv.gz";

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `args` fails with one line on stderr, exit 2, containing `expected`; nothing is written in `dir`
/// beyond the files there before.
fn refused(dir: &Path, args: &[&str], expected: &str) {
    let before = files_in(dir);
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(expected), "{err:?} does not contain {expected:?}");
    assert_eq!(files_in(dir), before, "{args:?} wrote something");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A CSV file in `dir`.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Two separable features and a label column of `labels` (cycled) over 40 rows.
fn labelled(labels: [&str; 2]) -> String {
    let mut text = String::from("id,a,b,y\n");
    for i in 0..40 {
        let class = i % 2;
        let a = if class == 1 { 1.0 + (i % 7) as f32 * 0.1 } else { -1.0 - (i % 5) as f32 * 0.1 };
        text += &format!("r{i},{a},{},{}\n", (i * 3 % 11) as f32, labels[class]);
    }
    text
}

fn train(dir: &Path, data: &str, flags: &[&str]) -> (String, serde_json::Value) {
    let model = dir.join("m.safetensors");
    let args = [&["train", "--data", data, "--out", path(&model), "--device", "cpu", "--json"], flags].concat();
    let report: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    (path(&model).to_string(), report)
}

#[test]
fn any_two_label_values_train_and_predict_writes_the_class_names() {
    let dir = tempfile::tempdir().unwrap();
    for (labels, positive, flag) in
        [(["B", "M"], "M", None), (["no", "yes"], "yes", None), (["-1", "1"], "1", None), (["M", "B"], "B", Some("B"))]
    {
        let data = write(dir.path(), "d.csv", &labelled(labels));
        let mut flags = vec!["--id", "id"];
        if let Some(p) = flag {
            flags.extend(["--positive-class", p]);
        }
        let (model, report) = train(dir.path(), &data, &flags);
        assert_eq!(report["classes"]["positive"], positive, "{labels:?}");
        assert_eq!(report["train"]["accuracy"], 1.0, "{labels:?}");
        let out = ok(&["predict", "--model", &model, "--data", &data, "--device", "cpu"]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("id,probability_{positive},class"));
        // Row r1 is of the second class in `labels`, r0 of the first.
        let class_of = |line: &str| line.rsplit(',').next().unwrap().to_string();
        assert!(lines[1].starts_with("r0,") && lines[2].starts_with("r1,"), "{out}");
        assert_eq!((class_of(lines[1]), class_of(lines[2])), (labels[0].to_string(), labels[1].to_string()));
        let report: serde_json::Value =
            serde_json::from_str(&ok(&["evaluate", "--model", &model, "--data", &data, "--device", "cpu", "--json"]))
                .unwrap();
        assert_eq!((report["rows"].as_u64(), report["accuracy"].as_f64()), (Some(40), Some(1.0)));
    }
    // Labels 1.0/0.0 (or false/TRUE) are the numbers 0 and 1: `probability,class` as before.
    let data = write(dir.path(), "d.csv", &labelled(["0.0", "1.0"]).replacen(",1.0\n", ",TRUE\n", 1));
    let (model, report) = train(dir.path(), &data, &["--drop", "id"]);
    assert!(report["classes"].is_null());
    let out = ok(&["predict", "--model", &model, "--data", &data, "--device", "cpu"]);
    assert!(out.starts_with("probability,class\n") && out.lines().nth(2).unwrap().ends_with(",1"), "{out}");
}

#[test]
fn label_rejections_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.safetensors");
    let ms = path(&m);
    let three = write(dir.path(), "three.csv", "a,y\n1,B\n2,M\n3,X\n");
    let two = write(dir.path(), "two.csv", &labelled(["B", "M"]));
    let one = write(dir.path(), "one.csv", "a,y\n1,M\n2,M\n");
    refused(
        dir.path(),
        &["train", "--data", &three, "--out", ms, "--max-classes", "2"],
        &format!(
            "{three}:4:2: label `X` is value 3 of the label column, more than --max-classes 2: a continuous \
             column? name the label with --label, or raise --max-classes (column `y`)"
        ),
    );
    refused(
        dir.path(),
        &["train", "--data", &two, "--drop", "id", "--out", ms, "--positive-class", "m"],
        &format!("{two}: label column `y`: --positive-class `m` is not a label value (found `B`, `M`)"),
    );
    refused(
        dir.path(),
        &["train", "--data", &one, "--out", ms],
        &format!("{one}: label column `y`: the labels hold one value, `M`: training needs two classes"),
    );
    // evaluate reads labels through the model's classes.
    let (model, _) = train(dir.path(), &two, &["--drop", "id"]);
    let other = write(dir.path(), "other.csv", "id,a,b,y\nr0,1,2,M\nr1,1,2,benign\n");
    refused(
        dir.path(),
        &["evaluate", "--model", &model, "--data", &other],
        &format!("{other}:3:4: label `benign` is not one of the model's classes (`B`, `M`) (column `y`)"),
    );
}

#[test]
fn ids_and_chosen_columns_are_recorded_and_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "d.csv",
        "key,x1,x2,note,zz,y\n\"k,1\",1,5,hello,9,1\nk2,-1,4,,8,0\nk3,2,3,x,7,1\nk4,-2,2,y,6,0\n",
    );
    let (model, report) = train(dir.path(), &data, &["--id", "key", "--features", "x*,zz", "--drop", "zz"]);
    assert_eq!(report["features"], serde_json::json!(["x1", "x2"]));
    // The scoring file has its columns in another order, no label, and still the left-out ones.
    let new = write(dir.path(), "new.csv", "note,x2,zz,x1,key\nq,5,0,1,\"k,1\"\nr,4,0,-1,k2\n");
    let out = ok(&["predict", "--model", &model, "--data", &new, "--device", "cpu"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "key,probability,class");
    assert!(lines[1].starts_with("\"k,1\",") && lines[1].ends_with(",1"), "{out}");
    assert!(lines[2].starts_with("k2,") && lines[2].ends_with(",0"), "{out}");
    let json = ok(&["predict", "--model", &model, "--data", &new, "--device", "cpu", "--json"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!((first["key"].as_str(), first["class"].as_u64()), (Some("k,1"), Some(1)));

    let m = dir.path().join("m2.safetensors");
    let ms = path(&m);
    refused(
        dir.path(),
        &["train", "--data", &data, "--out", ms, "--id", "nope"],
        "no --id column `nope` in the header",
    );
    refused(
        dir.path(),
        &["train", "--data", &data, "--out", ms, "--features", "w*"],
        "--features `w*` matches no column (columns: key, x1, x2, note, zz)",
    );
    refused(dir.path(), &["train", "--data", &data, "--out", ms, "--drop", "q?"], "--drop `q?` matches no column");
    let unexpected = write(dir.path(), "u.csv", "key,x1,x2,extra\nk,1,2,3\n");
    refused(
        dir.path(),
        &["predict", "--model", &model, "--data", &unexpected],
        &format!("{unexpected}:1: columns do not match the model's 2 features: unexpected `extra`"),
    );
    let no_id = write(dir.path(), "noid.csv", "x1,x2\n1,2\n");
    refused(
        dir.path(),
        &["predict", "--model", &model, "--data", &no_id],
        &format!("{no_id}:1: no ID column `key` (the model's --id) in the header"),
    );
    // evaluate needs no ID column.
    let labelled = write(dir.path(), "l.csv", "x1,x2,y\n1,2,1\n-1,2,0\n");
    ok(&["evaluate", "--model", &model, "--data", &labelled, "--device", "cpu"]);
}

/// An export with the ID and the weight after the label: the label is the last column that
/// neither names, so these train exactly as with `--label y` given.
#[test]
fn id_and_weight_columns_kept_last_do_not_become_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b,y,key,w\n");
    for i in 0..40 {
        let class = i % 2;
        let a = if class == 1 { 0.5 + (i % 7) as f32 * 0.3 } else { 0.8 - (i % 5) as f32 * 0.3 };
        text += &format!("{a},{},{class},k{i},{}\n", (i * 3 % 11) as f32, 1 + i % 3);
    }
    let data = write(dir.path(), "d.csv", &text);
    let flags = ["--id", "key", "--sample-weight", "w", "--solver", "newton"];
    let (_, report) = train(dir.path(), &data, &flags);
    let (_, named) = train(dir.path(), &data, &[&flags[..], &["--label", "y"]].concat());
    assert_eq!(report["features"], serde_json::json!(["a", "b"]));
    assert_eq!(report["coef"], named["coef"]);
    assert_eq!(report["intercept"], named["intercept"]);
    assert!(report["coef"].as_array().is_some_and(|c| c.len() == 2), "{report}");
    // Named outright, a weight that is the label is still refused.
    let m = dir.path().join("m2.safetensors");
    refused(
        dir.path(),
        &["train", "--data", &data, "--out", path(&m), "--label", "w", "--sample-weight", "w"],
        "--sample-weight `w` is the label or an --id column",
    );
}

#[test]
fn missing_values_are_refused_imputed_or_dropped_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.csv", "a,b,y\n1,10,1\nNA,20,0\n3,,1\n-1,40,0\n2,null,1\n-2,60,0\n");
    let m = dir.path().join("m.safetensors");
    let ms = path(&m);
    refused(
        dir.path(),
        &["train", "--data", &data, "--out", ms],
        &format!("{data}:3:1: missing value `NA` (column `a`); set --missing mean, median or drop-rows"),
    );
    // Mean: of the training rows' values (a: 1, 3, -1, 2, -2 → 0.6; b: 10, 20, 40, 60 → 32.5).
    let (model, _) = train(dir.path(), &data, &["--missing", "mean", "--solver", "newton"]);
    let saved = logreg::model::file::SavedModel::load(Path::new(&model)).unwrap();
    let recipe = saved.recipe.unwrap();
    assert_eq!((recipe.inputs[0].impute, recipe.inputs[1].impute), (Some(0.6), Some(32.5)));
    // predict fills a missing cell with it: the same probability as the value written out.
    let filled = write(dir.path(), "f.csv", "a,b\n0.6,32.5\nNA,\n");
    let out = ok(&["predict", "--model", &model, "--data", &filled, "--device", "cpu"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], lines[2], "{out}");
    let (model, _) = train(dir.path(), &data, &["--missing", "median"]);
    let recipe = logreg::model::file::SavedModel::load(Path::new(&model)).unwrap().recipe.unwrap();
    assert_eq!((recipe.inputs[0].impute, recipe.inputs[1].impute), (Some(1.0), Some(30.0)));
    // --na-values replaces the list: `NA` is then text, not a number.
    refused(
        dir.path(),
        &["train", "--data", &data, "--out", ms, "--missing", "mean", "--na-values", "null"],
        &format!("{data}:3:1: `NA` is not a number (column `a`)"),
    );
    // drop-rows: training leaves out 3 rows (a note says so); predict never drops one.
    let model_path = dir.path().join("drop.safetensors");
    let out =
        logreg(&["train", "--data", &data, "--out", path(&model_path), "--missing", "drop-rows", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("note: --missing drop-rows left out 3 of 6 rows"), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("trained on 3 rows"), "{}", stdout(&out));
    refused(
        dir.path(),
        &["predict", "--model", path(&model_path), "--data", &filled],
        &format!("{filled}:3:1: missing value `NA`: the model was trained with --missing drop-rows, and predictions never drop rows (column `a`)"),
    );
    let empty = write(dir.path(), "e.csv", "a,b,y\nNA,1,1\n,2,0\n");
    refused(
        dir.path(),
        &["train", "--data", &empty, "--out", ms, "--missing", "mean"],
        &format!("{empty}: column `a` has no value in the training rows to take the mean of (--missing mean)"),
    );
}

#[test]
fn categorical_columns_are_one_hot_with_the_training_levels() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("site,x,y\n");
    for i in 0..30 {
        let site = ["left", "right", "both"][i % 3];
        text += &format!("{site},{},{}\n", (i % 4) as f32, u8::from(site == "left" || i % 4 == 0));
    }
    let data = write(dir.path(), "d.csv", &text);
    let m = dir.path().join("m.safetensors");
    let ms = path(&m);
    refused(dir.path(), &["train", "--data", &data, "--out", ms], "`left` is not a number (column `site`)");
    let (model, report) = train(dir.path(), &data, &["--categorical", "site"]);
    assert_eq!(report["features"], serde_json::json!(["site=both", "site=left", "site=right", "x"]));
    let (_, auto) = train(dir.path(), &data, &["--categorical", "auto"]);
    assert_eq!(auto["coef"], report["coef"], "auto finds the same column");
    let unseen = write(dir.path(), "u.csv", "site,x\nleft,1\ncenter,2\nright,0\n");
    refused(
        dir.path(),
        &["predict", "--model", &model, "--data", &unseen],
        &format!("{unseen}:3:1: level `center` was not seen in training (use --unknown ignore to encode it as all zeros) (column `site`)"),
    );
    let out = logreg(&["predict", "--model", &model, "--data", &unseen, "--unknown", "ignore", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 4);
    assert_eq!(
        stderr(&out).trim(),
        "note: 1 cell held a level not seen in training, encoded as all zeros (--unknown ignore)"
    );
    refused(
        dir.path(),
        &["train", "--data", &data, "--out", ms, "--categorical", "auto", "--max-levels", "2"],
        &format!("{data}:4:1: --categorical auto: more than 2 distinct values (--max-levels)"),
    );
    let clash = write(dir.path(), "c.csv", "site,site=left,y\nleft,1,1\nright,0,0\n");
    refused(
        dir.path(),
        &["train", "--data", &clash, "--out", ms, "--categorical", "site"],
        "the one-hot feature `site=left` (column `site`, level `left`) is also the name of a column",
    );
    refused(
        dir.path(),
        &["train", "--data", &data, "--out", ms, "--categorical", "nope"],
        "no --categorical column `nope`",
    );
}

/// The messy example file: train with every recipe flag, then `evaluate` on the same raw file
/// reports exactly (to the bit) the metrics training computed on its own transformed rows.
#[test]
fn predict_on_the_raw_file_reproduces_the_training_transformation_to_the_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (model, report) = train(
        dir.path(),
        PATIENTS,
        &[
            "--label",
            "diagnosis",
            "--id",
            "patient",
            "--drop",
            "comment",
            "--categorical",
            "clinic",
            "--missing",
            "mean",
            "--standardize",
            "--solver",
            "newton",
        ],
    );
    assert_eq!(report["classes"], serde_json::json!({"negative": "B", "positive": "M"}));
    let evaluated: serde_json::Value =
        serde_json::from_str(&ok(&["evaluate", "--model", &model, "--data", PATIENTS, "--device", "cpu", "--json"]))
            .unwrap();
    for key in ["rows", "log_loss", "accuracy", "roc_auc", "precision", "recall", "f1", "confusion"] {
        assert_eq!(evaluated[key], report["train"][key], "{key}");
    }
    assert_eq!(evaluated["rows"], 450);
    let out = ok(&["predict", "--model", &model, "--data", NEW_PATIENTS, "--device", "cpu"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "patient,probability_M,class");
    assert_eq!(lines.len(), 120);
    assert!(lines[1].starts_with("P0451,") && lines[119].starts_with("P0569,"), "{out}");
}

/// A model file as written before recipes (format version 1: numeric columns, labels 0/1; a plain
/// table still trains to one) predicts and evaluates as it always did.
#[test]
fn version_1_model_files_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.csv", "a,b,y\n1,0,1\n-1,1,0\n2,0,1\n-2,1,0\n0.5,0,1\n-0.5,2,0\n");
    let (model, _) = train(dir.path(), &data, &["--solver", "newton"]);
    let version = b"\"format_version\":\"1\"";
    assert!(std::fs::read(&model).unwrap().windows(version.len()).any(|w| w == version));
    assert!(logreg::model::file::SavedModel::load(Path::new(&model)).unwrap().recipe.is_none());
    // Columns in another order, labels written true/false: read as they always were.
    let other = write(dir.path(), "o.csv", "b,a,y\n0,1,true\n1,-1,false\n");
    let out = ok(&["predict", "--model", &model, "--data", &other, "--device", "cpu"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "probability,class");
    assert!(lines[1].ends_with(",1") && lines[2].ends_with(",0"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&["evaluate", "--model", &model, "--data", &other, "--device", "cpu", "--json"]))
            .unwrap();
    assert_eq!((report["rows"].as_u64(), report["accuracy"].as_f64()), (Some(2), Some(1.0)));
}

/// `convert` takes the recipe flags: a file is read in two passes (the recipe learned, then each
/// row written through it) to the bytes standard input gives read into memory, and the recipe
/// file it writes beside the `.npy` makes a model trained on the array (in memory or `--stream`)
/// the model of the raw file: the same coefficients, and it scores the raw file, IDs first.
#[test]
fn convert_streams_the_recipe_and_train_records_it_from_the_file_beside() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--label",
        "diagnosis",
        "--id",
        "patient",
        "--drop",
        "comment",
        "--categorical",
        "clinic",
        "--missing",
        "mean",
    ];
    let x = dir.path().join("x.npy");
    let converted: serde_json::Value =
        serde_json::from_str(&ok(&[&["convert", PATIENTS, path(&x), "--json"], &flags[..]].concat())).unwrap();
    assert_eq!(converted["rows"], 450);
    assert_eq!(converted["streamed"], true);
    assert_eq!(converted["classes"], serde_json::json!({"negative": "B", "positive": "M"}));
    assert_eq!(converted["features"][0], "clinic=east");
    let (y, recipe) = (dir.path().join("x.labels.npy"), dir.path().join("x.recipe.json"));
    assert_eq!(converted["recipe_file"], path(&recipe));
    // The same gzip bytes on standard input: read into memory, the same three files.
    let z = dir.path().join("z.npy");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logreg"))
        .args([&["convert", "-", path(&z), "--json"], &flags[..]].concat())
        .stdin(std::fs::File::open(PATIENTS).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["streamed"], false);
    for (a, b) in [("x.npy", "z.npy"), ("x.labels.npy", "z.labels.npy"), ("x.recipe.json", "z.recipe.json")] {
        assert_eq!(std::fs::read(dir.path().join(a)).unwrap(), std::fs::read(dir.path().join(b)).unwrap(), "{a}");
    }
    let (trained, from_npy) = train(dir.path(), path(&x), &["--labels", path(&y), "--solver", "newton"]);
    let npy_model = dir.path().join("npy.safetensors");
    std::fs::rename(trained, &npy_model).unwrap();
    let (csv_model, from_csv) = train(dir.path(), PATIENTS, &[&flags[..], &["--solver", "newton"]].concat());
    assert_eq!(from_npy["coef"], from_csv["coef"]);
    assert_eq!(from_npy["intercept"], from_csv["intercept"]);
    assert_eq!(from_npy["features"], from_csv["features"]);
    let predicted = ok(&["predict", "--model", path(&npy_model), "--data", NEW_PATIENTS]);
    assert!(predicted.starts_with("patient,probability_M,class\n"), "{predicted}");
    assert_eq!(predicted, ok(&["predict", "--model", &csv_model, "--data", NEW_PATIENTS]));
    // The array scores under the names its recipe file gives, in memory and streamed alike.
    let on_npy = ok(&["evaluate", "--model", path(&npy_model), "--data", path(&x), "--labels", path(&y)]);
    let streamed = ok(&["evaluate", "--model", path(&npy_model), "--data", path(&x), "--labels", path(&y), "--stream"]);
    assert_eq!(on_npy, streamed);
    assert!(on_npy.starts_with("rows             450\n"), "{on_npy}");
    // `--stream` records the recipe too: the model reads the raw new file, IDs and classes by name.
    let stream_model = dir.path().join("stream.safetensors");
    ok(&[
        "train",
        "--data",
        path(&x),
        "--labels",
        path(&y),
        "--stream",
        "--standardize",
        "--epochs",
        "50",
        "--out",
        path(&stream_model),
        "--quiet",
    ]);
    let scored = ok(&["predict", "--model", path(&stream_model), "--data", NEW_PATIENTS]);
    assert!(scored.starts_with("patient,probability_M,class\nP0451,"), "{scored}");
    assert_eq!(scored.lines().count(), predicted.lines().count());
    refused(
        dir.path(),
        &["train", "--data", path(&x), "--labels", path(&y), "--stream", "--id", "patient"],
        "--id applies to a CSV --data; --stream reads a .npy file: give --id to `logreg convert`",
    );
    // Labels converted with the other positive class are refused, not scored upside down.
    let flipped = dir.path().join("flipped");
    std::fs::create_dir(&flipped).unwrap();
    let f = flipped.join("f.npy");
    ok(&[&["convert", PATIENTS, path(&f), "--quiet", "--positive-class", "B"], &flags[..]].concat());
    refused(
        &flipped,
        &["evaluate", "--model", path(&npy_model), "--data", path(&f), "--labels", path(&flipped.join("f.labels.npy"))],
        "its labels were converted with the classes B (1) and M (0), the model's are M (1) and B (0)",
    );
    // Labels of another conversion are refused by the recipe file's checksum, in memory and
    // streamed; so is `--out` onto the recipe file, and `--label` with a streamed array.
    let other_labels = flipped.join("f.labels.npy");
    let other = "the labels given are not the ones converted with";
    let never = dir.path().join("n.safetensors");
    refused(dir.path(), &["train", "--data", path(&x), "--labels", path(&other_labels), "--out", path(&never)], other);
    refused(dir.path(), &["train", "--data", path(&x), "--labels", path(&other_labels), "--stream"], other);
    refused(
        dir.path(),
        &["evaluate", "--model", path(&npy_model), "--data", path(&x), "--labels", path(&other_labels), "--stream"],
        other,
    );
    refused(
        &flipped,
        &["evaluate", "--model", path(&npy_model), "--data", path(&f), "--labels", path(&other_labels), "--stream"],
        "its labels were converted with the classes B (1) and M (0)",
    );
    refused(
        dir.path(),
        &["train", "--data", path(&x), "--labels", path(&y), "--out", path(&recipe)],
        "the same file as the recipe file beside --data",
    );
    refused(dir.path(), &["train", "--data", path(&x), "--labels", path(&y), "--stream", "--label", "y"], "--label");
    // A path that is not a regular file (a pipe) is read once, into memory, to the same bytes.
    let w = dir.path().join("w.npy");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_logreg"))
        .args([&["convert", "/dev/stdin", path(&w), "--json"], &flags[..]].concat())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut pipe, &std::fs::read(PATIENTS).unwrap()).unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["streamed"], false);
    assert_eq!(std::fs::read(&w).unwrap(), std::fs::read(&x).unwrap());
    // A recipe file that does not describe its array, or is not one: one line, nothing trained.
    let text = std::fs::read_to_string(&recipe).unwrap();
    std::fs::write(&recipe, text.replace("\"rows\": 450", "\"rows\": 449")).unwrap();
    let args = ["train", "--data", path(&x), "--labels", path(&y), "--out", path(&never)];
    refused(dir.path(), &args, "x.recipe.json: describes 449 rows × 9 features, and");
    std::fs::write(&recipe, &text[..100]).unwrap();
    refused(dir.path(), &args, &format!("{}:", path(&recipe)));
    std::fs::remove_file(&recipe).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &recipe).unwrap();
    refused(dir.path(), &args, "x.recipe.json: not a regular file");
}

/// `path` and `cv` read a raw file as `train` does (IDs, dropped columns, a category, imputation,
/// text labels), and cv's model scores the raw new file: IDs first, classes by name.
#[test]
fn path_and_cv_read_the_messy_file_and_cvs_model_scores_raw_rows() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cv.safetensors");
    let flags = ["--label", "diagnosis", "--id", "patient", "--drop", "comment", "--categorical", "clinic"];
    let flags = [&flags[..], &["--missing", "mean", "--standardize", "--n-lambdas", "8"]].concat();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&[&["path", "--data", PATIENTS, "--json"][..], &flags[..]].concat())).unwrap();
    let features: Vec<&str> = json["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(features.iter().any(|f| f.starts_with("clinic=")), "{features:?}");
    assert!(!features.contains(&"patient") && !features.contains(&"comment"), "{features:?}");
    let cv: serde_json::Value =
        serde_json::from_str(&ok(
            &[&["cv", "--data", PATIENTS, "--json", "--out", path(&model)][..], &flags[..]].concat()
        ))
        .unwrap();
    assert!(cv["best"]["auc_mean"].as_f64().unwrap() > 0.95, "{}", cv["best"]);
    let predicted = ok(&["predict", "--model", path(&model), "--data", NEW_PATIENTS]);
    let mut lines = predicted.lines();
    assert_eq!(lines.next(), Some("patient,probability_M,class"));
    assert_eq!(predicted.lines().count(), 120);
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert!(cells[0].starts_with('P') && (cells[2] == "M" || cells[2] == "B"), "{line}");
    }
    let report = ok(&["evaluate", "--model", path(&model), "--data", NEW_PATIENTS, "--json"]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(report["roc_auc"].as_f64().unwrap() > 0.95, "{report}");
}
