use super::*;
use crate::exposition::Format;
use crate::relabel::RelabelConfig;
use crate::scrape::Limits;

const T0: i64 = 1_700_000_000_000;

fn settings() -> SeriesSettings {
    SeriesSettings {
        target_labels: Labels::from_pairs([("job", "node"), ("instance", "h:9100")]),
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        metric_relabel: Arc::from(Vec::new()),
        limits: Limits::default(),
    }
}

/// Runs one scrape of `body` (or a fetch error) and renders what came out as
/// `labels value@ts` lines, stale markers as `STALE`, sorted.
fn scrape(
    state: &mut SeriesState,
    body: Result<&str, &str>,
    at: i64,
) -> (Vec<String>, AppendStats, Option<String>) {
    let mut out = Vec::new();
    let input = body.map(|b| (b.as_bytes(), Format::Text)).map_err(str::to_owned);
    let (stats, err) = state.append(input, at, 0.5, &mut out);
    (render(&out), stats, err.map(|e| e.to_string()))
}

fn render(out: &[SeriesSample]) -> Vec<String> {
    let mut lines: Vec<String> = out
        .iter()
        .map(|s| {
            let v = if s.value.to_bits() == STALE_NAN_BITS {
                "STALE".to_owned()
            } else {
                s.value.to_string()
            };
            format!("{} {v}@{}", s.series, s.timestamp_ms - T0)
        })
        .collect();
    lines.sort();
    lines
}

fn auto(up: f64, scraped: usize, post: usize, added: usize, at: i64) -> Vec<String> {
    let t = "instance=\"h:9100\", job=\"node\"";
    vec![
        format!("{{__name__=\"scrape_duration_seconds\", {t}}} 0.5@{at}"),
        format!("{{__name__=\"scrape_samples_post_metric_relabeling\", {t}}} {post}@{at}"),
        format!("{{__name__=\"scrape_samples_scraped\", {t}}} {scraped}@{at}"),
        format!("{{__name__=\"scrape_series_added\", {t}}} {added}@{at}"),
        format!("{{__name__=\"up\", {t}}} {up}@{at}"),
    ]
}

#[track_caller]
fn check(got: &[String], samples: &[&str], auto_series: Vec<String>) {
    let mut want: Vec<String> = samples.iter().map(|s| s.to_string()).chain(auto_series).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn samples_get_the_target_labels_and_automatic_series() {
    let mut s = SeriesState::new(settings());
    let (out, stats, err) = scrape(&mut s, Ok("a 1\nb{x=\"y\"} 2\n"), T0);
    assert_eq!(err, None);
    assert_eq!(stats.series_added, 2);
    check(
        &out,
        &[
            r#"{__name__="a", instance="h:9100", job="node"} 1@0"#,
            r#"{__name__="b", instance="h:9100", job="node", x="y"} 2@0"#,
        ],
        auto(1.0, 2, 2, 2, 0),
    );
}

#[test]
fn clashing_scraped_labels_become_exported() {
    let mut s = SeriesState::new(settings());
    let (out, _, _) =
        scrape(&mut s, Ok("a{job=\"app\",exported_job=\"x\",instance=\"i\"} 1\n"), T0);
    assert!(out.contains(
        &r#"{__name__="a", exported_exported_job="app", exported_instance="i", exported_job="x", instance="h:9100", job="node"} 1@0"#
            .to_owned()
    ), "{out:#?}");
}

#[test]
fn honor_labels_keeps_the_scraped_values() {
    let mut s = SeriesState::new(SeriesSettings { honor_labels: true, ..settings() });
    let (out, _, _) = scrape(&mut s, Ok("a{job=\"app\"} 1\n"), T0);
    assert!(
        out.contains(&r#"{__name__="a", instance="h:9100", job="app"} 1@0"#.to_owned()),
        "{out:#?}"
    );
}

#[test]
fn a_series_that_disappears_gets_a_stale_marker() {
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok("a 1\nb 2\n"), T0);
    let (out, stats, _) = scrape(&mut s, Ok("a 3\n"), T0 + 15_000);
    assert_eq!(stats.stale_markers, 1);
    assert_eq!(stats.series_added, 0);
    check(
        &out,
        &[
            r#"{__name__="a", instance="h:9100", job="node"} 3@15000"#,
            r#"{__name__="b", instance="h:9100", job="node"} STALE@15000"#,
        ],
        auto(1.0, 1, 1, 0, 15000),
    );
}

#[test]
fn a_failed_scrape_marks_everything_stale_and_sets_up_to_0() {
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok("a 1\n"), T0);
    let (out, _, err) = scrape(&mut s, Err("connection refused"), T0 + 10);
    assert_eq!(err.as_deref(), Some("connection refused"));
    check(
        &out,
        &[r#"{__name__="a", instance="h:9100", job="node"} STALE@10"#],
        auto(0.0, 0, 0, 0, 10),
    );
    // Nothing left to mark on a second failure.
    let (out, _, _) = scrape(&mut s, Err("connection refused"), T0 + 20);
    check(&out, &[], auto(0.0, 0, 0, 0, 20));
}

#[test]
fn a_parse_error_fails_the_whole_scrape() {
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok("a 1\n"), T0);
    let (out, _, err) = scrape(&mut s, Ok("a 2\nb{ 3\n"), T0 + 10);
    assert!(err.as_deref().is_some_and(|e| e.starts_with("line 2: ")), "{err:?}");
    // The counts report what was seen before the bad line, as Prometheus does.
    check(
        &out,
        &[r#"{__name__="a", instance="h:9100", job="node"} STALE@10"#],
        auto(0.0, 1, 1, 0, 10),
    );
}

#[test]
fn sample_limit_fails_the_scrape() {
    let limits = Limits { sample_limit: 2, ..Limits::default() };
    let mut s = SeriesState::new(SeriesSettings { limits, ..settings() });
    let (out, _, err) = scrape(&mut s, Ok("a 1\nb 1\nc 1\n"), T0);
    assert_eq!(err.as_deref(), Some("sample_limit exceeded (limit: 2)"));
    // The whole body is counted (Prometheus keeps parsing to report it); the
    // series before the limit count as added.
    check(&out, &[], auto(0.0, 3, 3, 2, 0));
    let (_, _, err) = scrape(&mut s, Ok("a 1\nb 1\n"), T0 + 1);
    assert_eq!(err, None);
}

#[test]
fn label_limits_fail_the_scrape() {
    let cases = [
        (Limits { label_limit: 3, ..Limits::default() }, "label_limit exceeded"),
        (
            Limits { label_name_length_limit: 3, ..Limits::default() },
            "label_name_length_limit exceeded",
        ),
        (
            Limits { label_value_length_limit: 3, ..Limits::default() },
            "label_value_length_limit exceeded",
        ),
    ];
    for (limits, want) in cases {
        let mut s = SeriesState::new(SeriesSettings { limits, ..settings() });
        let (_, _, err) = scrape(&mut s, Ok("a{long_name=\"long value\"} 1\n"), T0);
        assert!(err.as_deref().is_some_and(|e| e.starts_with(want)), "{err:?} vs {want}");
    }
}

#[test]
fn timestamps_are_honored_unless_disabled() {
    let mut s = SeriesState::new(settings());
    let (out, _, _) = scrape(&mut s, Ok(&format!("a 1 {}\n", T0 - 5000)), T0);
    assert!(out.contains(&r#"{__name__="a", instance="h:9100", job="node"} 1@-5000"#.to_owned()));
    let mut s = SeriesState::new(SeriesSettings { honor_timestamps: false, ..settings() });
    let (out, _, _) = scrape(&mut s, Ok(&format!("a 1 {}\n", T0 - 5000)), T0);
    assert!(out.contains(&r#"{__name__="a", instance="h:9100", job="node"} 1@0"#.to_owned()));
}

#[test]
fn series_with_their_own_timestamps_are_not_stale_marked_unless_tracked() {
    let body = format!("a 1 {}\n", T0 - 5000);
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok(&body), T0);
    let (_, stats, _) = scrape(&mut s, Ok(""), T0 + 10);
    assert_eq!(stats.stale_markers, 0);
    let mut s = SeriesState::new(SeriesSettings { track_timestamps_staleness: true, ..settings() });
    scrape(&mut s, Ok(&body), T0);
    let (_, stats, _) = scrape(&mut s, Ok(""), T0 + 10);
    assert_eq!(stats.stale_markers, 1);
}

#[test]
fn a_repeated_series_keeps_its_first_sample() {
    let mut s = SeriesState::new(settings());
    let (out, stats, err) = scrape(&mut s, Ok("a 1\na 2\n"), T0);
    assert_eq!((stats.duplicates, err), (1, None));
    assert!(out.contains(&r#"{__name__="a", instance="h:9100", job="node"} 1@0"#.to_owned()));
}

#[test]
fn a_label_repeated_in_a_sample_fails_the_scrape() {
    let mut s = SeriesState::new(settings());
    let (_, _, err) = scrape(&mut s, Ok("a{x=\"1\",x=\"2\"} 1\n"), T0);
    assert!(err.as_deref().is_some_and(|e| e.starts_with("label x is duplicated")), "{err:?}");
}

#[test]
fn metric_relabel_configs_drop_and_rewrite() {
    let rules: Vec<crate::relabel::Rule> = [
        "{source_labels: [__name__], regex: 'drop_.*', action: drop}",
        "{source_labels: [x], target_label: y, replacement: 'from_$1'}",
    ]
    .iter()
    .map(|y| {
        crate::relabel::Rule::try_new(&serde_yaml::from_str::<RelabelConfig>(y).unwrap()).unwrap()
    })
    .collect();
    let mut s = SeriesState::new(SeriesSettings { metric_relabel: rules.into(), ..settings() });
    let (out, stats, _) = scrape(&mut s, Ok("drop_me 1\nkeep{x=\"v\"} 2\n"), T0);
    assert_eq!((stats.scraped, stats.post_relabel), (2, 1));
    check(
        &out,
        &[r#"{__name__="keep", instance="h:9100", job="node", x="v", y="from_v"} 2@0"#],
        auto(1.0, 2, 1, 1, 0),
    );
}

#[test]
fn end_marks_every_series_and_the_automatic_ones_stale() {
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok("a 1\n"), T0);
    let mut out = Vec::new();
    assert_eq!(s.end(T0 + 7, &mut out), 6);
    assert!(render(&out).iter().all(|l| l.ends_with("STALE@7")));
}

#[test]
fn an_inherited_state_continues_staleness_without_gaps() {
    let mut old = SeriesState::new(settings());
    scrape(&mut old, Ok("a 1\nb 1\n"), T0);
    let mut new = SeriesState::new(settings());
    new.inherit(old);
    let (out, stats, _) = scrape(&mut new, Ok("a 2\n"), T0 + 10);
    assert_eq!(stats.stale_markers, 1);
    assert!(out.contains(&r#"{__name__="b", instance="h:9100", job="node"} STALE@10"#.to_owned()));
}

#[test]
fn a_cache_hit_reuses_the_label_set() {
    let mut s = SeriesState::new(settings());
    let mut first = Vec::new();
    s.append(Ok((b"a{x=\"1\"} 1\n", Format::Text)), T0, 0.0, &mut first);
    let mut second = Vec::new();
    s.append(Ok((b"a{x=\"1\"} 2\n", Format::Text)), T0 + 1, 0.0, &mut second);
    assert!(SharedSeries::ptr_eq(&first[0].series, &second[0].series));
}

#[test]
fn two_spellings_of_one_series_never_mark_it_stale_while_it_goes_on() {
    let mut s = SeriesState::new(settings());
    let (_, stats, _) = scrape(&mut s, Ok("a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n"), T0);
    assert_eq!(stats.duplicates, 1);
    // Only the second spelling now: the series goes on, no stale marker.
    let (out, stats, _) = scrape(&mut s, Ok("a{y=\"2\",x=\"1\"} 3\n"), T0 + 10);
    assert_eq!(stats.stale_markers, 0, "{out:?}");
    assert!(out.contains(
        &r#"{__name__="a", instance="h:9100", job="node", x="1", y="2"} 3@10"#.to_owned()
    ));
}

#[test]
fn a_failed_scrape_marks_only_the_last_successful_series_stale() {
    let mut s = SeriesState::new(SeriesSettings {
        limits: Limits { sample_limit: 2, ..Limits::default() },
        ..settings()
    });
    scrape(&mut s, Ok("a 1\n"), T0);
    // b and c are new and over the limit: nothing stored, only a goes stale.
    let (out, stats, err) = scrape(&mut s, Ok("a 2\nb 2\nc 2\n"), T0 + 10);
    assert!(err.is_some());
    assert_eq!(stats.stale_markers, 1, "{out:?}");
    assert!(out.contains(&r#"{__name__="a", instance="h:9100", job="node"} STALE@10"#.to_owned()));
    // The next good scrape marks nothing: the failure already did.
    let (_, stats, err) = scrape(&mut s, Ok("b 3\n"), T0 + 20);
    assert_eq!((stats.stale_markers, err), (0, None));
}

#[test]
fn evicted_cache_entries_leave_the_others_findable() {
    // (`c 4` below is a cache hit: its sample is stored without a new series.)
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok("a 1\nb 1\nc 1\n"), T0);
    scrape(&mut s, Ok("c 2\n"), T0 + 10);
    scrape(&mut s, Ok("c 3\n"), T0 + 20);
    // a and b were evicted (unseen for two scrapes); c is still cached.
    assert_eq!(s.cache.len(), 1);
    let (out, stats, _) = scrape(&mut s, Ok("b 4\nc 4\n"), T0 + 30);
    assert_eq!(stats.series_added, 1);
    assert!(out.contains(&r#"{__name__="b", instance="h:9100", job="node"} 4@30"#.to_owned()));
    assert!(out.contains(&r#"{__name__="c", instance="h:9100", job="node"} 4@30"#.to_owned()));
}

#[test]
fn a_failed_scrape_marks_stale_as_the_last_successful_one_stored() {
    // a was stored without a timestamp: the failure marks it stale, although
    // the failed scrape's line for a carried one.
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok("a 1\n"), T0);
    let (_, stats, err) = scrape(&mut s, Ok(&format!("a 2 {T0}\n!\n")), T0 + 10);
    assert!(err.is_some());
    assert_eq!(stats.stale_markers, 1);
    // a was stored with its own timestamp: no marker, whatever the failed
    // scrape's line was.
    let mut s = SeriesState::new(settings());
    scrape(&mut s, Ok(&format!("a 1 {T0}\n")), T0);
    let (_, stats, err) = scrape(&mut s, Ok("a 2\n!\n"), T0 + 10);
    assert!(err.is_some());
    assert_eq!(stats.stale_markers, 0);
}

#[test]
fn a_cache_entry_packs_into_24_bytes() {
    // 200,000 series: each byte more is 0.2 MB of every agent's memory.
    assert_eq!(std::mem::size_of::<CacheEntry>(), 24);
}

#[test]
fn staleness_stays_exact_when_the_iteration_stamps_wrap() {
    // The second spelling is stored by scrape 1, then seen but not stored
    // (the first spelling wins) by scrapes 2 to 65,536, whose last one has
    // the same 16-bit stamp as scrape 1. Its old stamp must not pass for
    // that scrape's: when the series goes, one stale marker, not two.
    let mut s = SeriesState::new(settings());
    let (first, second) = (r#"a{x="1",y="2"}"#, r#"a{y="2",x="1"}"#);
    scrape(&mut s, Ok(&format!("{second} 1\n")), T0);
    let both = format!("{first} 1\n{second} 1\n");
    let mut out = Vec::new();
    for i in 2..=65_536u32 {
        assert_eq!(Stamps::stored(i) == Stamps::stored(1), i == 65_536);
        out.clear();
        let (stats, err) = s.append(Ok((both.as_bytes(), Format::Text)), T0, 0.0, &mut out);
        assert!(err.is_none());
        assert_eq!((stats.stale_markers, stats.duplicates), (0, 1));
    }
    let (out, stats, _) = scrape(&mut s, Ok("b 1\n"), T0 + 10);
    assert_eq!(stats.stale_markers, 1, "{out:?}");
    assert!(out.contains(
        &r#"{__name__="a", instance="h:9100", job="node", x="1", y="2"} STALE@10"#.to_owned()
    ));
}

#[test]
fn a_second_spelling_made_while_the_first_is_absent_is_still_a_duplicate_later() {
    // Scrape 2 makes the entry of the second spelling while the first's is
    // still cached (seen in scrape 1); in scrape 3 both are cache hits, and
    // the series must still be stored once.
    let mut s = SeriesState::new(settings());
    let (first, second) = (r#"a{x="1",y="2"}"#, r#"a{y="2",x="1"}"#);
    scrape(&mut s, Ok(&format!("{first} 1\n")), T0);
    scrape(&mut s, Ok(&format!("{second} 2\nb 1\n")), T0 + 10);
    let (out, stats, err) = scrape(&mut s, Ok(&format!("{first} 3\n{second} 4\nb 2\n")), T0 + 20);
    assert_eq!((stats.duplicates, err), (1, None));
    let a: Vec<&String> = out.iter().filter(|l| l.contains("x=\"1\"")).collect();
    assert_eq!(a, [r#"{__name__="a", instance="h:9100", job="node", x="1", y="2"} 3@20"#]);
    // Once the second spelling is evicted, a scrape of only hits stays exact.
    scrape(&mut s, Ok(&format!("{first} 5\nb 3\n")), T0 + 30);
    scrape(&mut s, Ok(&format!("{first} 6\nb 4\n")), T0 + 40);
    let (out, stats, _) = scrape(&mut s, Ok(&format!("{first} 7\n{first} 8\nb 5\n")), T0 + 50);
    assert_eq!(stats.duplicates, 1, "{out:?}");
}
