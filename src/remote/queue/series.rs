//! The label set a remote endpoint receives for a series: `external_labels`
//! added (a series' own label wins), then `write_relabel_configs`. Without
//! write relabeling (the usual case) the series' own label set is used as it
//! is, and the encoder merges the external labels in while writing, so no
//! second copy of every label set exists. With rules, the result is computed
//! once per series and cached by series hash.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use crate::labels::{Labels, Series, SharedSeries};
use crate::relabel::{self, Rule};

/// Final label sets of one endpoint, cached.
#[derive(Debug)]
pub struct SeriesLabels {
    external: Labels,
    rules: Arc<[Rule]>,
    cache: HashMap<u64, (SharedSeries, Option<SharedSeries>)>,
}

/// Entries kept before the cache is cleared (series churn bound).
const MAX_CACHED: usize = 1 << 20;

impl SeriesLabels {
    pub fn new(external: Labels, rules: Arc<[Rule]>) -> Self {
        SeriesLabels { external, rules, cache: HashMap::new() }
    }

    /// The endpoint's series for `series`, or `None` when write relabeling
    /// drops it.
    pub fn get(&mut self, series: SharedSeries) -> Option<SharedSeries> {
        if self.rules.is_empty() {
            return Some(series);
        }
        let hash = series.hash();
        if let Some((orig, done)) = self.cache.get(&hash) {
            if SharedSeries::ptr_eq(orig, &series) || **orig == *series {
                return done.clone();
            }
        }
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        let done = self.compute(series.labels()).map(|l| SharedSeries::new(Series::new(l)));
        self.cache.insert(hash, (series, done.clone()));
        done
    }

    /// The external labels the encoder merges into every series.
    pub fn external(&self) -> &Labels {
        &self.external
    }

    fn compute(&self, labels: &Labels) -> Option<Labels> {
        let mut b = labels.builder();
        for l in &self.external {
            if !b.has(l.name) {
                b.set(l.name, l.value);
            }
        }
        if !relabel::process(&self.rules, &mut b) {
            return None;
        }
        let out = b.build();
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relabel::RelabelConfig;

    fn rules(yaml: &[&str]) -> Arc<[Rule]> {
        yaml.iter()
            .map(|y| Rule::try_new(&serde_yaml::from_str::<RelabelConfig>(y).unwrap()).unwrap())
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn without_rules_the_series_labels_are_shared_not_copied() {
        let mut s =
            SeriesLabels::new(Labels::from_pairs([("replica", "a"), ("env", "prod")]), rules(&[]));
        let l = SharedSeries::new(Series::new(Labels::from_pairs([
            ("__name__", "up"),
            ("env", "dev"),
        ])));
        let got = s.get(l.clone()).unwrap();
        assert!(SharedSeries::ptr_eq(&got, &l));
        assert_eq!(s.external().to_string(), r#"{env="prod", replica="a"}"#);
    }

    #[test]
    fn with_rules_external_labels_are_added_unless_the_series_has_them() {
        let mut s = SeriesLabels::new(
            Labels::from_pairs([("replica", "a"), ("env", "prod")]),
            rules(&["{source_labels: [__name__], regex: 'nothing', action: drop}"]),
        );
        let l = SharedSeries::new(Series::new(Labels::from_pairs([
            ("__name__", "up"),
            ("env", "dev"),
        ])));
        let got = s.get(l.clone()).unwrap();
        assert_eq!(got.to_string(), r#"{__name__="up", env="dev", replica="a"}"#);
    }

    #[test]
    fn write_relabeling_sees_external_labels_and_may_drop() {
        let mut s = SeriesLabels::new(
            Labels::from_pairs([("replica", "a")]),
            rules(&["{source_labels: [__name__, replica], regex: 'go_.*;a', action: drop}"]),
        );
        let go =
            SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "go_goroutines")])));
        let up = SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "up")])));
        assert_eq!(s.get(go.clone()), None);
        assert!(s.get(up.clone()).is_some());
        // Cached answers stay the same.
        assert_eq!(s.get(go.clone()), None);
    }
}
