//! Categorical columns: a cell's level (numbers compare as numbers, `1` = `1.0`; text as trimmed
//! text, case-sensitively), the levels a column takes in training (stored in the model, sorted),
//! and their one-hot feature names `column=level`.

/// A categorical cell's level: a finite number in its shortest f32 form (so `1.0` and `1` are one
/// level, and a numeric column read first as numbers keeps its levels when it turns out to be
/// text), else the trimmed text.
pub fn level_of(cell: &str) -> String {
    match cell.parse::<f32>() {
        Ok(v) if v.is_finite() => number_level(v),
        _ => cell.to_string(),
    }
}

/// The level of a number (`-0` is `0`).
pub fn number_level(v: f32) -> String {
    format!("{}", if v == 0.0 { 0.0 } else { v })
}

/// The one-hot feature of `level` in `column`.
pub fn feature_name(column: &str, level: &str) -> String {
    format!("{column}={level}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_compare_numbers_as_numbers() {
        assert_eq!(level_of("1.0"), level_of("1"));
        assert_eq!(level_of("-0"), "0");
        assert_eq!(level_of("left"), "left");
        assert_ne!(level_of("Left"), level_of("left"));
        assert_eq!(feature_name("site", "left"), "site=left");
    }

    proptest::proptest! {
        /// A level read back is itself: the encoding at predict time finds it again.
        #[test]
        fn levels_are_fixed_points(cell in "[ -~]{1,10}") {
            let cell = cell.trim();
            let level = level_of(cell);
            proptest::prop_assert_eq!(level_of(&level), level);
        }
    }
}
