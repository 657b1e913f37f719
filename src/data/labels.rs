//! Label values as people write them: any two distinct values are the two classes (`0/1`,
//! `-1/1`, `true/false`, `yes/no`, `M/B` …). Values that parse as numbers compare as numbers
//! (`1` = `1.0`; `true` and `false`, in any case, are 1 and 0), others as trimmed text,
//! case-sensitively. Which class is positive: the one
//! `--positive-class` names, else the rule of [`Classes::learn`]. Three or more values make a
//! multiclass problem, its classes in the order of [`ordered`] (scikit-learn's sorted order).

use serde::{Deserialize, Serialize};

use crate::data::table::shown;

/// A label cell as it compares: a finite number, or text.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelKey {
    /// A cell that parses as a finite number (`-0` is `0`).
    Number(f64),
    /// Any other cell, trimmed.
    Text(String),
}

impl LabelKey {
    /// The key of a (trimmed) cell: `true` and `false`, in any case, are the numbers 1 and 0 (as
    /// logreg always read them).
    pub fn of(text: &str) -> Self {
        let text = text.trim();
        if text.eq_ignore_ascii_case("true") {
            return LabelKey::Number(1.0);
        }
        if text.eq_ignore_ascii_case("false") {
            return LabelKey::Number(0.0);
        }
        match text.parse::<f64>() {
            // `inf` and `nan` parse as f64 but are names here.
            Ok(v) if v.is_finite() => LabelKey::Number(if v == 0.0 { 0.0 } else { v }),
            _ => LabelKey::Text(text.to_string()),
        }
    }

    /// The class's name as the model stores it: a number in its shortest form (`1.0` → `1`), text
    /// as it is.
    pub fn name(&self) -> String {
        match self {
            LabelKey::Number(v) => format!("{v}"),
            LabelKey::Text(t) => t.clone(),
        }
    }

    /// `1`, or `true` or `yes` in any case: a value the rule takes as positive.
    fn says_positive(&self) -> bool {
        match self {
            LabelKey::Number(v) => *v == 1.0,
            LabelKey::Text(t) => t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("yes"),
        }
    }
}

/// The most label values `train` takes by default (`--max-classes`): more, most likely, are a
/// continuous column.
pub const MAX_CLASSES: usize = 100;

/// The classes of a multiclass problem in their model order: numbers first, ascending, then
/// text in byte order (as `numpy.unique` sorts a column of one kind).
pub fn ordered(seen: &[LabelKey]) -> Vec<LabelKey> {
    let mut numbers: Vec<f64> =
        seen.iter().filter_map(|k| if let LabelKey::Number(v) = k { Some(*v) } else { None }).collect();
    numbers.sort_by(f64::total_cmp);
    let mut texts: Vec<String> =
        seen.iter().filter_map(|k| if let LabelKey::Text(t) = k { Some(t.clone()) } else { None }).collect();
    texts.sort();
    numbers.into_iter().map(LabelKey::Number).chain(texts.into_iter().map(LabelKey::Text)).collect()
}

/// The two classes by name: label values equal to `negative` are 0, to `positive` 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classes {
    /// The class scored 0.
    pub negative: String,
    /// The class whose probability the model gives.
    pub positive: String,
}

impl Classes {
    /// The classes `0` and `1` (what a model without a record of its classes was trained on;
    /// `true`/`false` read as 1/0 there).
    pub fn numeric() -> Self {
        Self { negative: "0".into(), positive: "1".into() }
    }

    /// Whether these are the classes `0` and `1` (a model file then records none).
    pub fn is_numeric(&self) -> bool {
        LabelKey::of(&self.negative) == LabelKey::Number(0.0) && LabelKey::of(&self.positive) == LabelKey::Number(1.0)
    }

    /// The classes of the distinct values `seen` (one or two). The positive class is `positive`
    /// when given (it must be one of them); else the one value that is `1`, `true` or `yes` (any
    /// case); else the larger number when both are numbers, else the text later in byte order.
    /// A single value `0` or `1` gives the classes 0 and 1 (training then says it holds one
    /// class); any other single value is an error.
    pub fn learn(seen: &[LabelKey], positive: Option<&str>) -> std::result::Result<Self, String> {
        let listed = || seen.iter().map(|k| format!("`{}`", shown(&k.name()))).collect::<Vec<_>>().join(", ");
        if let Some(p) = positive {
            let key = LabelKey::of(p);
            let Some(i) = seen.iter().position(|k| *k == key) else {
                return Err(format!("--positive-class `{}` is not a label value (found {})", shown(p), listed()));
            };
            return match seen {
                [_, _] => Ok(Self { negative: seen[1 - i].name(), positive: seen[i].name() }),
                _ => Err(format!("the labels hold one value, {}: training needs two classes", listed())),
            };
        }
        match seen {
            [LabelKey::Number(v)] if *v == 0.0 || *v == 1.0 => Ok(Self::numeric()),
            [a, b] => {
                let positive_b = match (a.says_positive(), b.says_positive()) {
                    (true, false) => false,
                    (false, true) => true,
                    _ => match (a, b) {
                        (LabelKey::Number(x), LabelKey::Number(y)) => y > x,
                        _ => b.name() > a.name(),
                    },
                };
                let (n, p) = if positive_b { (a, b) } else { (b, a) };
                Ok(Self { negative: n.name(), positive: p.name() })
            }
            _ => Err(format!("the labels hold one value, {}: training needs two classes", listed())),
        }
    }

    /// 0 or 1 for a label cell of these classes; `None` for another value.
    pub fn class_of(&self, text: &str) -> Option<f32> {
        let key = LabelKey::of(text);
        if key == LabelKey::of(&self.positive) {
            Some(1.0)
        } else if key == LabelKey::of(&self.negative) {
            Some(0.0)
        } else {
            None
        }
    }

    /// `negative`/`positive` keys, precomputed for a loop over many rows.
    pub fn keys(&self) -> (LabelKey, LabelKey) {
        (LabelKey::of(&self.negative), LabelKey::of(&self.positive))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learned(values: &[&str], positive: Option<&str>) -> std::result::Result<(String, String), String> {
        let keys: Vec<LabelKey> = values.iter().map(|v| LabelKey::of(v)).collect();
        Classes::learn(&keys, positive).map(|c| (c.negative, c.positive))
    }

    fn pair(n: &str, p: &str) -> std::result::Result<(String, String), String> {
        Ok((n.to_string(), p.to_string()))
    }

    #[test]
    fn the_documented_rule_picks_the_positive_class() {
        assert_eq!(learned(&["0", "1"], None), pair("0", "1"));
        assert_eq!(learned(&["1.0", "0.0"], None), pair("0", "1"));
        assert_eq!(learned(&["1", "-1"], None), pair("-1", "1"));
        assert_eq!(learned(&["2", "1"], None), pair("2", "1"), "1 before the larger value");
        assert_eq!(learned(&["3", "2"], None), pair("2", "3"));
        assert_eq!(learned(&["false", "TRUE"], None), pair("0", "1"), "true/false are 1/0");
        assert_eq!(learned(&["Yes", "No"], None), pair("No", "Yes"));
        assert_eq!(learned(&["B", "M"], None), pair("B", "M"));
        assert_eq!(learned(&["M", "B"], None), pair("B", "M"));
        assert_eq!(learned(&["M", "B"], Some("B")), pair("M", "B"));
        assert_eq!(learned(&["-1", "1"], Some("-1.0")), pair("1", "-1"));
        assert_eq!(learned(&["1"], None), pair("0", "1"));
    }

    #[test]
    fn bad_choices_are_one_line_errors() {
        assert_eq!(
            learned(&["M", "B"], Some("m")).unwrap_err(),
            "--positive-class `m` is not a label value (found `M`, `B`)"
        );
        assert_eq!(learned(&["M"], None).unwrap_err(), "the labels hold one value, `M`: training needs two classes");
        assert_eq!(
            learned(&["M"], Some("M")).unwrap_err(),
            "the labels hold one value, `M`: training needs two classes"
        );
    }

    #[test]
    fn numbers_compare_as_numbers_and_text_case_sensitively() {
        let c = Classes::learn(&[LabelKey::of("-1"), LabelKey::of("1")], None).unwrap();
        assert_eq!(c.class_of("1.00"), Some(1.0));
        assert_eq!(c.class_of(" -1e0 "), Some(0.0));
        assert_eq!(c.class_of("2"), None);
        let t = Classes::learn(&[LabelKey::of("yes"), LabelKey::of("no")], None).unwrap();
        assert_eq!((t.class_of("yes"), t.class_of(" no"), t.class_of("Yes")), (Some(1.0), Some(0.0), None));
        assert!(Classes::numeric().is_numeric() && !t.is_numeric());
    }

    #[test]
    fn multiclass_order_is_numbers_ascending_then_text() {
        let keys: Vec<LabelKey> = ["10", "b", "2", "-1.5", "A", "true"].iter().map(|v| LabelKey::of(v)).collect();
        let names: Vec<String> = ordered(&keys).iter().map(LabelKey::name).collect();
        assert_eq!(names, ["-1.5", "1", "2", "10", "A", "b"]);
    }

    proptest::proptest! {
        /// Any two distinct cells make two classes that map each cell back to its own class, and
        /// a cell's key is the key of its class name.
        #[test]
        fn any_two_values_round_trip(a in "[ -~]{0,12}", b in "[ -~]{0,12}") {
            let (ka, kb) = (LabelKey::of(&a), LabelKey::of(&b));
            proptest::prop_assume!(ka != kb);
            let c = Classes::learn(&[ka.clone(), kb.clone()], None).unwrap();
            proptest::prop_assert_eq!(LabelKey::of(&ka.name()), ka);
            let (x, y) = (c.class_of(&a).unwrap(), c.class_of(&b).unwrap());
            proptest::prop_assert_eq!(x + y, 1.0);
            let forced = Classes::learn(&[LabelKey::of(&a), LabelKey::of(&b)], Some(&a)).unwrap();
            proptest::prop_assert_eq!(forced.class_of(&a), Some(1.0));
        }
    }
}
