//! `static_configs`: targets written in the configuration itself.
//!
//! All `static_configs` entries of a job form one provider (as Prometheus'
//! `StaticProvider`); entry `i` becomes the group with source `"i"`. The
//! provider sends its list once and returns: it has nothing more to say, and the
//! manager keeps a provider's last list until the job is stopped or changed.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Provider, TargetGroup};
use crate::labels::Labels;

/// One `static_configs` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticConfig {
    /// `host:port` of each target.
    pub targets: Vec<String>,
    /// Labels common to the targets.
    pub labels: Labels,
}

/// The groups of a job's `static_configs`: entry `i` has source `"i"`.
pub fn static_groups(configs: &[StaticConfig]) -> Vec<TargetGroup> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            TargetGroup::from_addresses(
                i.to_string(),
                c.targets.iter().map(String::as_str),
                c.labels.clone(),
            )
        })
        .collect()
}

/// Sends the static groups once.
#[derive(Debug, Clone)]
pub struct StaticProvider {
    groups: Vec<TargetGroup>,
}

impl StaticProvider {
    pub fn new(configs: &[StaticConfig]) -> Self {
        StaticProvider { groups: static_groups(configs) }
    }
}

impl Provider for StaticProvider {
    async fn run(self, tx: mpsc::Sender<Vec<TargetGroup>>, cancel: CancellationToken) {
        tokio::select! {
            _ = cancel.cancelled() => {}
            // An error means the receiver is gone: nothing left to do either way.
            _ = tx.send(self.groups) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(targets: &[&str], labels: &[(&str, &str)]) -> StaticConfig {
        StaticConfig {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            labels: Labels::from_pairs(labels.iter().copied()),
        }
    }

    /// Renders groups as `source: [addresses] labels` lines.
    fn render(groups: &[TargetGroup]) -> Vec<String> {
        groups
            .iter()
            .map(|g| {
                let targets: Vec<String> = g.targets.iter().map(|t| t.to_string()).collect();
                format!("{}: [{}] {}", g.source, targets.join(" "), g.labels)
            })
            .collect()
    }

    #[track_caller]
    fn check(configs: &[StaticConfig], want: &[&str]) {
        assert_eq!(render(&static_groups(configs)), want);
    }

    #[test]
    fn each_entry_is_one_group_sourced_by_its_index() {
        check(&[], &[]);
        check(
            &[config(&["a:1", "b:2"], &[("env", "prod")]), config(&["c:3"], &[])],
            &[
                r#"0: [{__address__="a:1"} {__address__="b:2"}] {env="prod"}"#,
                r#"1: [{__address__="c:3"}] {}"#,
            ],
        );
        check(&[config(&[], &[("x", "y")])], &[r#"0: [] {x="y"}"#]);
        check(&[config(&["", "a:1"], &[])], &[r#"0: [{__address__="a:1"}] {}"#]);
    }

    #[tokio::test]
    async fn provider_sends_its_groups_once_then_returns() {
        let (tx, mut rx) = mpsc::channel(1);
        let p = StaticProvider::new(&[config(&["a:1"], &[])]);
        p.run(tx, CancellationToken::new()).await;
        let groups = rx.recv().await.expect("one list");
        assert_eq!(render(&groups), [r#"0: [{__address__="a:1"}] {}"#]);
        assert!(rx.recv().await.is_none(), "sender dropped after the only send");
    }

    #[tokio::test]
    async fn provider_returns_when_cancelled_even_if_nobody_receives() {
        let (tx, _rx) = mpsc::channel(1);
        tx.send(Vec::new()).await.unwrap(); // fill the channel
        let cancel = CancellationToken::new();
        cancel.cancel();
        let p = StaticProvider::new(&[config(&["a:1"], &[])]);
        tokio::time::timeout(std::time::Duration::from_secs(1), p.run(tx, cancel))
            .await
            .expect("returns when cancelled");
    }
}
