//! Summary statistics over repeated runs: median, minimum and maximum.

use serde::{Deserialize, Serialize};

/// The median, minimum and maximum of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// How many samples the summary is made of.
    pub n: usize,
}

/// Summarises `samples`, ignoring NaN values. `None` when no sample is left.
///
/// The median of an even number of samples is the mean of the two middle ones.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: v[0],
        max: v[n - 1],
        n,
    })
}

/// Ratios of paired samples (`values[i] / base[i]`), skipping pairs where either side is
/// missing or the base is not positive.
pub fn paired_ratios(values: &[Option<f64>], base: &[Option<f64>]) -> Vec<f64> {
    values
        .iter()
        .zip(base)
        .filter_map(|(v, b)| match (v, b) {
            (Some(v), Some(b)) if *b > 0.0 => Some(v / b),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_count_is_middle_value() {
        let s = summarize(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!(s.median, 3.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 5.0);
        assert_eq!(s.n, 3);
    }

    #[test]
    fn median_of_even_count_is_mean_of_middle_pair() {
        let s = summarize(&[4.0, 1.0, 10.0, 2.0]).unwrap();
        assert_eq!(s.median, 3.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 10.0);
    }

    #[test]
    fn single_sample_is_its_own_summary() {
        let s = summarize(&[7.5]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (7.5, 7.5, 7.5, 1));
    }

    #[test]
    fn empty_and_nan_only_inputs_have_no_summary() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN, f64::NAN]), None);
    }

    #[test]
    fn nan_samples_are_ignored() {
        let s = summarize(&[f64::NAN, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.n), (3.0, 2));
    }

    #[test]
    fn ratios_pair_runs_and_skip_missing_sides() {
        let v = [Some(10.0), None, Some(9.0), Some(4.0)];
        let b = [Some(5.0), Some(1.0), None, Some(0.0)];
        assert_eq!(paired_ratios(&v, &b), vec![2.0]);
    }
}
