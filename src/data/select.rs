//! Choosing columns by name or glob (`--features`, `--drop`): `*` matches any run of characters,
//! `?` one character, everything else itself; a pattern that matches no column is an error.

use crate::data::table::shown;

/// Whether `name` matches the glob `pattern` (`*` any run, `?` one character).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Two pointers, backtracking to the last `*` only: no exponential blow-up.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || (p[i] != '*' && p[i] == n[j])) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Which of `names` the `patterns` (from the flag `flag`) match; a pattern matching none of them
/// is an error naming it.
pub fn matching(names: &[String], patterns: &[String], flag: &str) -> std::result::Result<Vec<bool>, String> {
    let mut chosen = vec![false; names.len()];
    for pattern in patterns {
        let mut any = false;
        for (i, name) in names.iter().enumerate() {
            if glob_matches(pattern, name) {
                chosen[i] = true;
                any = true;
            }
        }
        if !any {
            let mut list: Vec<String> = names.iter().take(12).map(|n| shown(n)).collect();
            if names.len() > 12 {
                list.push(format!("… ({} columns)", names.len()));
            }
            return Err(format!("{flag} `{}` matches no column (columns: {})", shown(pattern), list.join(", ")));
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_documented() {
        assert!(glob_matches("x*", "x12") && glob_matches("x*", "x") && !glob_matches("x*", "ax"));
        assert!(glob_matches("*radius", "mean radius") && !glob_matches("*radius", "radius mean"));
        assert!(glob_matches("a?c", "abc") && !glob_matches("a?c", "ac"));
        assert!(glob_matches("*", "") && glob_matches("a*b*c", "aXbYbZc") && !glob_matches("a*b*c", "aXbY"));
        assert!(glob_matches("site=left", "site=left") && !glob_matches("site", "site2"));
    }

    #[test]
    fn a_pattern_matching_nothing_is_named() {
        let names: Vec<String> = ["a", "b1", "b2"].map(String::from).to_vec();
        assert_eq!(matching(&names, &["b*".into()], "--drop").unwrap(), [false, true, true]);
        assert_eq!(
            matching(&names, &["a".into(), "z?".into()], "--features").unwrap_err(),
            "--features `z?` matches no column (columns: a, b1, b2)"
        );
    }

    /// A plainly recursive matcher, the reference for the property test.
    fn reference(pattern: &[char], name: &[char]) -> bool {
        match (pattern.first(), name.first()) {
            (None, None) => true,
            (Some('*'), _) => reference(&pattern[1..], name) || (!name.is_empty() && reference(pattern, &name[1..])),
            (Some('?'), Some(_)) => reference(&pattern[1..], &name[1..]),
            (Some(a), Some(b)) if a == b => reference(&pattern[1..], &name[1..]),
            _ => false,
        }
    }

    proptest::proptest! {
        #[test]
        fn globs_agree_with_a_recursive_matcher(pattern in "[ab*?]{0,8}", name in "[abc]{0,10}") {
            let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
            proptest::prop_assert_eq!(glob_matches(&pattern, &name), reference(&p, &n));
        }
    }
}
