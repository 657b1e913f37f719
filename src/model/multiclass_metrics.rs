//! Metrics of K-class probabilities against class indices, optionally weighted per row, as
//! scikit-learn computes them: log-loss, accuracy, per-class precision/recall/F1 averaged over the
//! model's K classes (macro) and by support (weighted), the K×K confusion matrix, and the macro
//! one-vs-rest ROC AUC.

use serde::Serialize;

/// What `logreg evaluate` reports for a multiclass model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MulticlassReport {
    /// Rows scored.
    pub rows: usize,
    /// The classes, in the order of the confusion matrix.
    pub classes: Vec<String>,
    /// Weighted mean of −log p(true class), probabilities clipped to [1e-15, 1 − 1e-15].
    pub log_loss: f64,
    /// Weighted share of rows whose most probable class is theirs.
    pub accuracy: f64,
    /// Unweighted mean over the classes of each one's precision (0 for a class never predicted).
    pub precision_macro: f64,
    /// Mean over the classes of each one's recall (0 for a class with no rows).
    pub recall_macro: f64,
    /// Mean over the classes of each one's F1.
    pub f1_macro: f64,
    /// Precision averaged with each class's (weighted) row count.
    pub precision_weighted: f64,
    /// Recall averaged with each class's row count.
    pub recall_weighted: f64,
    /// F1 averaged with each class's row count.
    pub f1_weighted: f64,
    /// Mean over the classes of the ROC AUC of its probability against the rest (ties count
    /// half); `None` when a class has no rows, or every row is of it.
    pub roc_auc_ovr_macro: Option<f64>,
    /// `confusion[i][j]`: the (weighted) rows of class i predicted as class j.
    pub confusion: Vec<Vec<f64>>,
}

/// The report of `probs` (`rows × K` row-major) against `labels` (class indices) with optional
/// row `weights`. The predicted class is the most probable one, the first on a tie (as `argmax`).
pub fn report(probs: &[f32], labels: &[f32], classes: &[String], weights: Option<&[f64]>) -> MulticlassReport {
    let k = classes.len();
    let rows = labels.len();
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mut confusion = vec![vec![0.0f64; k]; k];
    let (mut total, mut loss) = (0.0f64, 0.0f64);
    for (i, &label) in labels.iter().enumerate() {
        let row = &probs[i * k..(i + 1) * k];
        let truth = label as usize;
        let predicted = (0..k).fold(0, |best, j| if row[j] > row[best] { j } else { best });
        let w = weight(i);
        confusion[truth][predicted] += w;
        total += w;
        loss -= w * f64::from(row[truth]).clamp(1e-15, 1.0 - 1e-15).ln();
    }
    let correct: f64 = (0..k).map(|j| confusion[j][j]).sum();
    let support: Vec<f64> = confusion.iter().map(|r| r.iter().sum()).collect();
    let predicted: Vec<f64> = (0..k).map(|j| confusion.iter().map(|r| r[j]).sum()).collect();
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let precision: Vec<f64> = (0..k).map(|j| ratio(confusion[j][j], predicted[j])).collect();
    let recall: Vec<f64> = (0..k).map(|j| ratio(confusion[j][j], support[j])).collect();
    let f1: Vec<f64> = (0..k).map(|j| ratio(2.0 * precision[j] * recall[j], precision[j] + recall[j])).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / k as f64;
    let by_support = |v: &[f64]| ratio(v.iter().zip(&support).map(|(a, s)| a * s).sum(), total);
    // One class's AUC is a sort of every row: the classes go on up to torch's thread count.
    let auc = |j: usize| {
        let scores: Vec<f32> = (0..rows).map(|i| probs[i * k + j]).collect();
        let truth: Vec<bool> = labels.iter().map(|&l| l as usize == j).collect();
        binary_auc(&scores, &truth, weights)
    };
    let threads = (tch::get_num_threads().max(1) as usize).min(k).min(rows / 10_000).max(1);
    let aucs: Option<Vec<f64>> = if threads == 1 {
        (0..k).map(auc).collect()
    } else {
        let per = k.div_ceil(threads);
        std::thread::scope(|scope| {
            let auc = &auc;
            let handles: Vec<_> = (0..k)
                .step_by(per)
                .map(|first| scope.spawn(move || (first..(first + per).min(k)).map(auc).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    };
    MulticlassReport {
        rows,
        classes: classes.to_vec(),
        log_loss: ratio(loss, total),
        accuracy: ratio(correct, total),
        precision_macro: mean(&precision),
        recall_macro: mean(&recall),
        f1_macro: mean(&f1),
        precision_weighted: by_support(&precision),
        recall_weighted: by_support(&recall),
        f1_weighted: by_support(&f1),
        roc_auc_ovr_macro: aucs.map(|a| mean(&a)),
        confusion,
    }
}

/// The weighted ROC AUC of `scores` for the rows where `truth` holds: the trapezoid area under the
/// curve of weighted true- against false-positive rates, tied scores moving together (they count
/// half); `None` when either side has no weight.
pub fn binary_auc(scores: &[f32], truth: &[bool], weights: Option<&[f64]>) -> Option<f64> {
    // (score, row) pairs, highest score first: sorted in place, unstably, as tied rows move
    // together (about 3× faster than a stable sort of row indices at 100k rows).
    let mut order: Vec<(f32, usize)> = scores.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    order.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let (mut tp, mut fp, mut area) = (0.0f64, 0.0f64, 0.0f64);
    let mut at = 0;
    while at < order.len() {
        let (tp0, fp0) = (tp, fp);
        let score = order[at].0;
        // total_cmp, not ==: a NaN score equals itself here, so the scan always moves on.
        while at < order.len() && order[at].0.total_cmp(&score).is_eq() {
            let i = order[at].1;
            if truth[i] {
                tp += weight(i);
            } else {
                fp += weight(i);
            }
            at += 1;
        }
        area += (fp - fp0) * (tp + tp0) / 2.0;
    }
    (tp > 0.0 && fp > 0.0).then(|| area / (tp * fp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_nan_scores_ends() {
        // NaN never equals itself with ==: the tie scan once spun on it forever.
        let auc = binary_auc(&[f32::NAN, 0.5, f32::NAN], &[true, false, false], None);
        assert!(auc.is_some());
        assert_eq!(binary_auc(&[0.9, 0.1, 0.5], &[true, false, true], None), Some(1.0));
    }

    #[test]
    fn counts_match_a_hand_worked_example() {
        // 4 rows, 3 classes: truths 0, 1, 2, 2; predictions 0, 2, 2, 2.
        let probs = [0.7, 0.2, 0.1, 0.2, 0.3, 0.5, 0.1, 0.1, 0.8, 0.3, 0.3, 0.4];
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let r = report(&probs, &[0.0, 1.0, 2.0, 2.0], &classes, None);
        assert_eq!(r.confusion, vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0], vec![0.0, 0.0, 2.0]]);
        assert_eq!(r.accuracy, 0.75);
        // precision 1, 0, 2/3; recall 1, 0, 1.
        assert!((r.precision_macro - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((r.recall_macro - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.recall_weighted - 0.75).abs() < 1e-12);
        let ll = -((0.7f32.ln() + 0.3f32.ln() + 0.8f32.ln() + 0.4f32.ln()) as f64) / 4.0;
        assert!((r.log_loss - ll).abs() < 1e-6);
        // Weight 2 on row 2 is row 2 twice.
        let w = report(&probs, &[0.0, 1.0, 2.0, 2.0], &classes, Some(&[1.0, 2.0, 1.0, 1.0]));
        assert_eq!(w.accuracy, 0.6);
    }

    #[test]
    fn auc_counts_ties_half_and_weights_as_repeats() {
        assert_eq!(binary_auc(&[0.9, 0.1], &[true, false], None), Some(1.0));
        assert_eq!(binary_auc(&[0.5, 0.5], &[true, false], None), Some(0.5));
        assert_eq!(binary_auc(&[0.5, 0.5], &[true, true], None), None);
        // Pairs: (0.8 vs 0.6) won, (0.8 vs 0.9) lost, (0.3 vs both) lost: 1 of 4 → with row 0
        // counted twice, 2 of 6.
        let s = [0.8, 0.6, 0.9, 0.3];
        let t = [true, false, false, true];
        assert_eq!(binary_auc(&s, &t, None), Some(0.25));
        let w = binary_auc(&s, &t, Some(&[2.0, 1.0, 1.0, 1.0])).unwrap();
        assert!((w - 2.0 / 6.0).abs() < 1e-12, "{w}");
    }

    /// The weighted share of (positive, negative) pairs ordered right, ties half, pair by pair.
    fn pairs_auc(scores: &[f32], truth: &[bool], weights: &[f64]) -> f64 {
        let (mut won, mut total) = (0.0, 0.0);
        for i in (0..scores.len()).filter(|&i| truth[i]) {
            for j in (0..scores.len()).filter(|&j| !truth[j]) {
                let w = weights[i] * weights[j];
                total += w;
                won += w * if scores[i] > scores[j] {
                    1.0
                } else if scores[i] == scores[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
        won / total
    }

    #[test]
    fn auc_and_the_per_class_threads_agree_with_the_pairs_counted() {
        // 30,000 rows of 3 classes (the classes' AUCs on more than one thread), scores on a
        // coarse grid so that many tie; every class's AUC against the pairs counted on the
        // first 400 rows, and the report's macro mean against the per-class ones on all rows.
        let (rows, k) = (30_000, 3);
        let labels: Vec<f32> = (0..rows).map(|i| ((i * 7 + i / 3) % k) as f32).collect();
        let probs: Vec<f32> = (0..rows * k).map(|i| ((i * 31 + i / 5) % 17) as f32 / 16.0).collect();
        let weights: Vec<f64> = (0..rows).map(|i| 0.5 + (i % 4) as f64).collect();
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let column = |j: usize, n: usize| (0..n).map(|i| probs[i * k + j]).collect::<Vec<f32>>();
        let truth = |j: usize, n: usize| labels[..n].iter().map(|&l| l as usize == j).collect::<Vec<bool>>();
        let mut each = vec![];
        for j in 0..k {
            let few = binary_auc(&column(j, 400), &truth(j, 400), Some(&weights[..400])).unwrap();
            let want = pairs_auc(&column(j, 400), &truth(j, 400), &weights[..400]);
            assert!((few - want).abs() < 1e-12, "class {j}: {few} vs {want}");
            each.push(binary_auc(&column(j, rows), &truth(j, rows), Some(&weights)).unwrap());
        }
        let r = report(&probs, &labels, &classes, Some(&weights));
        let mean = each.iter().sum::<f64>() / k as f64;
        assert_eq!(r.roc_auc_ovr_macro, Some(mean));
    }
}
