//! Classification metrics of predicted probabilities against 0/1 labels.

use serde::Serialize;

/// Counts of the confusion matrix at a threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Rows labelled 1 and predicted positive.
    pub true_positives: usize,
    /// Rows labelled 0 but predicted positive.
    pub false_positives: usize,
    /// Rows labelled 0 and predicted negative.
    pub true_negatives: usize,
    /// Rows labelled 1 but predicted negative.
    pub false_negatives: usize,
}

/// What `logreg evaluate` reports. A row is predicted positive when its probability is above the
/// threshold (as scikit-learn's `predict` at 0.5).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Rows scored.
    pub rows: usize,
    /// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15].
    pub log_loss: f64,
    /// Share of rows predicted correctly, in [0, 1].
    pub accuracy: f64,
    /// Area under the ROC curve (ties count half); `None` when only one class is present.
    pub roc_auc: Option<f64>,
    /// 0 when nothing is predicted positive.
    pub precision: f64,
    /// 0 when there are no positives.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
    /// The probability a row must exceed to be predicted positive.
    pub threshold: f64,
    /// The counts at `threshold`.
    pub confusion: Confusion,
}

/// The area under the ROC curve by the rank-sum formula, ties given their average rank.
pub(crate) fn roc_auc(probs: &[f32], labels: &[f32]) -> Option<f64> {
    let positives = labels.iter().filter(|&&y| y == 1.0).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Each row as one u64: the probability's bits in an order-preserving form, then its label;
    // sorting plain integers is several times faster than sorting indices by lookup.
    let key = |p: f32| {
        let bits = p.to_bits();
        if bits >> 31 == 1 {
            !bits
        } else {
            bits | 1 << 31
        }
    };
    let mut rows: Vec<u64> =
        probs.iter().zip(labels).map(|(&p, &y)| u64::from(key(p)) << 32 | u64::from(y == 1.0)).collect();
    rows.sort_unstable();
    let mut positive_rank_sum = 0.0;
    let mut i = 0;
    while i < rows.len() {
        let mut j = i;
        while j + 1 < rows.len() && rows[j + 1] >> 32 == rows[i] >> 32 {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        positive_rank_sum += rows[i..=j].iter().filter(|&&r| r & 1 == 1).count() as f64 * average_rank;
        i = j + 1;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Every metric of `probs` against `labels` (same length, non-empty).
pub fn report(probs: &[f32], labels: &[f32], threshold: f64) -> Report {
    assert_eq!(probs.len(), labels.len(), "one probability per label");
    let mut c = Confusion::default();
    let mut log_loss = 0.0;
    for (&p, &y) in probs.iter().zip(labels) {
        let p = f64::from(p);
        let clipped = p.clamp(1e-15, 1.0 - 1e-15);
        log_loss -= if y == 1.0 { clipped.ln() } else { (1.0 - clipped).ln() };
        match (p > threshold, y == 1.0) {
            (true, true) => c.true_positives += 1,
            (true, false) => c.false_positives += 1,
            (false, false) => c.true_negatives += 1,
            (false, true) => c.false_negatives += 1,
        }
    }
    from_counts(c, log_loss, threshold, roc_auc(probs, labels))
}

/// The report of rows whose confusion counts `c` and summed log-loss are known (summed over
/// processes, say), with the ROC AUC when it could be computed.
pub fn from_counts(c: Confusion, log_loss_sum: f64, threshold: f64, roc_auc: Option<f64>) -> Report {
    let rows = c.true_positives + c.false_positives + c.true_negatives + c.false_negatives;
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(c.true_positives, c.true_positives + c.false_positives);
    let recall = ratio(c.true_positives, c.true_positives + c.false_negatives);
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    Report {
        rows,
        log_loss: log_loss_sum / rows as f64,
        accuracy: ratio(c.true_positives + c.true_negatives, rows),
        roc_auc,
        precision,
        recall,
        f1,
        threshold,
        confusion: c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_ties_half() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]), Some(0.75));
        assert_eq!(roc_auc(&[0.5, 0.5], &[0.0, 1.0]), Some(0.5));
        assert_eq!(roc_auc(&[0.9, 0.1], &[1.0, 0.0]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.1], &[1.0, 1.0]), None);
    }

    #[test]
    fn report_matches_hand_counts() {
        let r = report(&[0.9, 0.6, 0.4, 0.2, 0.7], &[1.0, 0.0, 1.0, 0.0, 1.0], 0.5);
        let c = r.confusion;
        assert_eq!((c.true_positives, c.false_positives, c.true_negatives, c.false_negatives), (2, 1, 1, 1));
        assert_eq!((r.rows, r.accuracy), (5, 0.6));
        assert!((r.precision - 2.0 / 3.0).abs() < 1e-12 && (r.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.f1 - 2.0 / 3.0).abs() < 1e-12);
        let p = |v: f32| f64::from(v);
        let expected_log_loss =
            -[p(0.9), 1.0 - p(0.6), p(0.4), 1.0 - p(0.2), p(0.7)].iter().map(|v| v.ln()).sum::<f64>() / 5.0;
        assert!((r.log_loss - expected_log_loss).abs() < 1e-12, "{} vs {expected_log_loss}", r.log_loss);
    }

    #[test]
    fn degenerate_predictions_give_zeros_not_nans() {
        let r = report(&[0.0, 0.0], &[1.0, 0.0], 0.5);
        assert_eq!((r.precision, r.recall, r.f1), (0.0, 0.0, 0.0));
        assert!(r.log_loss.is_finite());
    }
}
