//! Hostile CSV files through the binary (issue 11): binary content and endless inputs, escaped and
//! cut cell text, physical line numbers, unterminated quotes, very wide headers. `train` and
//! `convert` each end in exit 2 and exactly one line, and write nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cli::{logreg, stderr, stdout};

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `train` and `convert` on `input` (in `dir`): exit 2, stderr exactly `error: {expected}` (with
/// `{f}` for the input's path) on one line, nothing on stdout, and nothing new in `dir`.
fn refused_at(dir: &Path, input: &Path, expected: &str) {
    let before = files_in(dir);
    let expected = format!("error: {}\n", expected.replace("{f}", input.to_str().unwrap()));
    let (model, npy) = (dir.join("m.safetensors"), dir.join("out.npy"));
    let (input, model, npy) = (input.to_str().unwrap(), model.to_str().unwrap(), npy.to_str().unwrap());
    for args in [&["train", "--data", input, "--out", model, "--device", "cpu"][..], &["convert", input, npy]] {
        let out = logreg(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), expected, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
        assert_eq!(files_in(dir), before, "{args:?} left a file");
    }
}

/// [`refused_at`] on `content`, written as `input.csv` in a fresh folder.
fn refused(content: &[u8], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.csv");
    std::fs::write(&input, content).unwrap();
    refused_at(dir.path(), &input, expected);
}

#[test]
fn dev_zero_behind_a_csv_name_or_on_standard_input_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("z.csv");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let started = std::time::Instant::now();
    refused_at(dir.path(), &link, "{f}: not a text file (binary content at byte 0, line 1)");
    for args in [&["train", "--data", "-", "--out", "m.safetensors", "--device", "cpu"][..], &["convert", "-", "o.npy"]]
    {
        let out = Command::new(crate::cli::bin())
            .args(args)
            .current_dir(dir.path())
            .stdin(std::fs::File::open("/dev/zero").unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stderr(&out), "error: <stdin>: not a text file (binary content at byte 0, line 1)\n");
        assert_eq!(files_in(dir.path()), ["z.csv"]);
    }
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[test]
fn binary_files_and_cut_compressed_ones_are_refused_from_their_first_64_kib() {
    let mut rows = b"a,b,y\n".to_vec();
    while rows.len() < 1024 {
        rows.extend(b"1.5,2,0\n-3,4e-2,1\n");
    }
    let (at, line) = (rows.len(), 1 + rows.iter().filter(|&&b| b == b'\n').count());
    rows.extend([0; 64]);
    rows.extend(b"\n5,6,1\n");
    refused(&rows, &format!("{{f}}: not a text file (binary content at byte {at}, line {line})"));
    refused(
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
        "{f}: gzip stream corrupt or truncated before the end of line 1",
    );
    refused(b"a,caf\xe9,y\n1,2,0\n", "{f}: not UTF-8 text (invalid byte 0xE9 at byte 5, line 1)");
}

#[test]
fn line_numbers_are_the_lines_an_editor_shows() {
    // CRLF, and a blank line before the bad cell on line 5.
    refused(b"a,b,y\r\n1,2,0\r\n\r\n3,4,1\r\n5,x,0\r\n", "{f}:5:2: `x` is not a number (column `b`)");
    // A header after blank lines: the error points at the header's own line.
    refused(b"\n\r\n\na,b,a\n1,2,0\n", "{f}:4:3: duplicate column name `a` (also column 1)");
    // A quoted line break: the record's first line, and the lines it spans; still one line.
    refused(
        b"a,b,y\n1,2,0\n3,\"4\n5\",1\n",
        "{f}:3:2: `4\\n5` is not a number (column `b`) (the record spans lines 3-4)",
    );
    refused(
        b"a,b,y\n1,2,0\n3,\"4,1\n5,6,0\n",
        "{f}:3:2: unterminated quote starting at line 3: the quoted field runs to the end of the file",
    );
}

#[test]
fn cell_text_is_escaped_and_cut_in_messages() {
    refused(
        b"a,b,y\n1,\x1b[2J\x1b]0;owned\x07,0\n",
        "{f}:2:2: `\\u{1b}[2J\\u{1b}]0;owned\\u{7}` is not a number (column `b`)",
    );
    // A 20 MB cell: the message stays short.
    let mut big = b"a,b,y\n1,2,0\n3,".to_vec();
    big.extend(std::iter::repeat_n(b'9', 20 << 20));
    big.extend(b"x,1\n");
    refused(&big, &format!("{{f}}:3:2: `{}…` is not a number (column `b`)", "9".repeat(40)));
}

#[test]
fn a_header_of_100k_columns_is_read_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = 100_000;
    let header: Vec<String> = (0..d).map(|i| format!("x{i}")).collect();
    let row: Vec<&str> = (0..d).map(|i| if i % 2 == 0 { "1.5" } else { "0" }).collect();
    let wide = dir.path().join("wide.csv");
    std::fs::write(&wide, format!("{}\n{}", header.join(","), format!("{}\n", row.join(",")).repeat(10))).unwrap();
    let npy = dir.path().join("wide.npy");
    let started = std::time::Instant::now();
    let out = logreg(&["convert", wide.to_str().unwrap(), npy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("(10 rows × {} features, f32)", d - 1)), "{}", stdout(&out));
    assert_eq!(std::fs::metadata(&npy).unwrap().len(), 128 + 10 * 4 * (d as u64 - 1));
    // A duplicate name in the last column: found without comparing every pair (94 s before).
    let dup = dir.path().join("dup.csv");
    std::fs::write(&dup, format!("{},x7\n{},0\n", header.join(","), row.join(","))).unwrap();
    refused_at(dir.path(), &dup, &format!("{{f}}:1:{}: duplicate column name `x7` (also column 8)", d + 1));
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}
