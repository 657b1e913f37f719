//! Missing values: which cells are missing (empty, or one of the `--na-values`), what training
//! does with them (`--missing error|mean|median|drop-rows`), and the imputation values learned on
//! the training part.

use serde::{Deserialize, Serialize};

use crate::data::table::shown;

/// What training does with a missing cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missing {
    /// A missing cell is an error naming its row and column.
    #[default]
    Error,
    /// A numeric column's missing cells take the mean of its training part; a categorical cell is
    /// encoded as all zeros.
    Mean,
    /// As `Mean`, with the median.
    Median,
    /// Training leaves out every row with a missing cell (`predict` never drops rows: there a
    /// missing cell is an error).
    DropRows,
}

impl std::str::FromStr for Missing {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        Ok(match text {
            "error" => Missing::Error,
            "mean" => Missing::Mean,
            "median" => Missing::Median,
            "drop-rows" => Missing::DropRows,
            _ => return Err(format!("`{}` is not one of error, mean, median, drop-rows", shown(text))),
        })
    }
}

/// The texts read as missing by default, besides an empty cell.
pub const DEFAULT_NA_VALUES: [&str; 3] = ["NA", "NaN", "null"];

/// The default `--na-values`, owned.
pub fn default_na_values() -> Vec<String> {
    DEFAULT_NA_VALUES.map(String::from).to_vec()
}

/// Parses `--na-values`: a comma-separated list of cell texts (trimmed), compared exactly; an
/// empty list leaves only empty cells missing.
pub fn parse_na_values(text: &str) -> std::result::Result<Vec<String>, String> {
    let values: Vec<String> = text.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
    if values.len() > 1000 {
        return Err(format!("{} NA values; at most 1000", values.len()));
    }
    Ok(values)
}

/// Whether a (trimmed) cell is missing: empty, or one of `na_values`.
#[inline]
pub fn is_missing(cell: &str, na_values: &[String]) -> bool {
    cell.is_empty() || na_values.iter().any(|v| v == cell)
}

/// The value that fills a column's missing cells: the mean or median of its values that are not
/// NaN (missing), or `None` when it has none.
pub fn imputed(values: impl Iterator<Item = f32>, how: Missing) -> Option<f32> {
    let mut present: Vec<f32> = values.filter(|v| !v.is_nan()).collect();
    if present.is_empty() {
        return None;
    }
    match how {
        Missing::Median => {
            present.sort_by(f32::total_cmp);
            let n = present.len();
            let mid = if n % 2 == 1 {
                f64::from(present[n / 2])
            } else {
                (f64::from(present[n / 2 - 1]) + f64::from(present[n / 2])) / 2.0
            };
            Some(mid as f32)
        }
        _ => Some((present.iter().map(|&v| f64::from(v)).sum::<f64>() / present.len() as f64) as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_and_medians_skip_missing_cells() {
        let v = [1.0, f32::NAN, 4.0, 2.0];
        assert_eq!(imputed(v.into_iter(), Missing::Mean), Some(7.0 / 3.0));
        assert_eq!(imputed(v.into_iter(), Missing::Median), Some(2.0));
        assert_eq!(imputed([1.0, 2.0, 10.0, 3.0].into_iter(), Missing::Median), Some(2.5));
        assert_eq!(imputed([f32::NAN].into_iter(), Missing::Mean), None);
    }

    #[test]
    fn na_values_are_listed_and_matched_exactly() {
        assert_eq!(parse_na_values(" NA ,-999,,?").unwrap(), ["NA", "-999", "?"]);
        assert!(parse_na_values("").unwrap().is_empty());
        let na = default_na_values();
        assert!(is_missing("", &na) && is_missing("NA", &na) && is_missing("null", &na));
        assert!(!is_missing("na", &na) && !is_missing("0", &na));
        assert_eq!("median".parse::<Missing>(), Ok(Missing::Median));
        assert_eq!("zero".parse::<Missing>().unwrap_err(), "`zero` is not one of error, mean, median, drop-rows");
    }

    proptest::proptest! {
        /// Every listed value (trimmed, not empty) is missing after parsing the list back.
        #[test]
        fn parsed_na_values_are_missing(values in proptest::collection::vec("[ -+\\--~]{0,6}", 0..5)) {
            let parsed = parse_na_values(&values.join(",")).unwrap();
            for v in &values {
                proptest::prop_assert!(is_missing(v.trim(), &parsed));
            }
            proptest::prop_assert!(parsed.iter().all(|v| !v.is_empty() && !v.contains(',')));
        }
    }
}
