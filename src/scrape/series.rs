//! The per-target series state of a scrape loop: the series cache, sample
//! labelling (honor_labels, metric_relabel_configs, limits), staleness and the
//! automatic series. Pure: the caller passes the body, the scrape time and the
//! fetch outcome, and gets back the batch to hand on.
//!
//! Invariants:
//! - The cache maps the raw series text of an exposition line to its final
//!   label set (or to "dropped by relabeling"); a hit skips label parsing,
//!   relabeling, sorting and hashing. Entries unseen for two scrapes go.
//! - Staleness comes from the cache itself, not from per-scrape maps: each
//!   entry records the scrape (iteration) in which its sample was last
//!   stored, as a 16-bit stamp (see [`Stamps`]). After a successful scrape,
//!   an entry stored in the last successful scrape and not in this one gets
//!   a stale marker, unless a sample with the same label set was stored in
//!   this scrape (two raw series that label the same) or it carried its own
//!   timestamp and `track_timestamps_staleness` is off (as in Prometheus).
//!   Entries of the last successful scrape are always still cached at the
//!   next one (they are evicted only after two scrapes unseen).
//! - A loop restarted for the same target inherits the old loop's last
//!   stored series as a plain list, used once by its first scrape (the new
//!   loop's relabel settings may differ, so the old cache is not reused).
//! - A failed scrape (fetch error, parse error, limit exceeded) stores no
//!   scraped sample: every series of the last scrape gets a stale marker and
//!   `up` is 0, exactly as Prometheus appends an empty scrape.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use hashbrown::hash_table;
use std::sync::Arc;

use crate::exposition::{Entry, Format, Parser, STALE_NAN_BITS};
use crate::labels::{Labels, LabelsBuilder, Series, SharedSeries, METRIC_NAME};
use crate::relabel::{self, Rule};

use super::{Limits, SeriesSample};

/// The staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Why a scrape's samples were not stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// The fetch failed (its own text; counted by the fetcher).
    #[error("{0}")]
    Fetch(String),
    #[error("{0}")]
    Parse(crate::exposition::ParseError),
    #[error("sample_limit exceeded (limit: {0})")]
    SampleLimit(usize),
    #[error(
        "label_limit exceeded (metric: {metric:.50}, number of labels: {count}, limit: {limit})"
    )]
    LabelLimit { metric: String, count: usize, limit: usize },
    #[error("label_name_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, length: {len}, limit: {limit})")]
    LabelNameLength { metric: String, name: String, len: usize, limit: usize },
    #[error("label_value_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, value: {value:.50}, length: {len}, limit: {limit})")]
    LabelValueLength { metric: String, name: String, value: String, len: usize, limit: usize },
    #[error("label {name} is duplicated in series {series:.100}")]
    DuplicateLabel { name: String, series: String },
    #[error("invalid metric name or label names in series {0:.100}")]
    InvalidSeries(String),
}

impl AppendError {
    /// The `reason` label of `tern_scrape_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            AppendError::Fetch(_) => "fetch",
            AppendError::Parse(_) => "parse",
            AppendError::SampleLimit(_) => "sample_limit",
            AppendError::LabelLimit { .. }
            | AppendError::LabelNameLength { .. }
            | AppendError::LabelValueLength { .. } => "label_limit",
            AppendError::DuplicateLabel { .. } | AppendError::InvalidSeries(_) => "invalid_series",
        }
    }
}

/// The labelling settings of a target, fixed for the life of a loop.
#[derive(Debug, Clone)]
pub struct SeriesSettings {
    /// The target's public labels (job, instance, ...), added to every series.
    pub target_labels: Labels,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub metric_relabel: Arc<[Rule]>,
    pub limits: Limits,
}

/// Counts reported through the automatic series and the targets API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    pub scraped: usize,
    pub post_relabel: usize,
    pub series_added: usize,
    pub stale_markers: usize,
    pub duplicates: usize,
}

#[derive(Debug)]
struct CacheEntry {
    /// 96 bits of the seeded XXH3-128 hash of the raw series text (see
    /// [`SeriesCache`]); beside the other fields so that the entry packs
    /// into 24 bytes.
    key: [u32; 3],
    /// `None`: dropped by metric_relabel_configs.
    series: Option<SharedSeries>,
    /// [`Stamps::seen`] of the last iteration that saw the entry.
    last_seen: u8,
    /// The stored sample carried its own timestamp (honored).
    explicit_timestamp: bool,
    /// [`Stamps::stored`] of the iteration whose append last stored this
    /// entry's sample, while that is the last successful one or the current
    /// one (0: none).
    stored: u16,
}

/// An entry keeps iterations as small stamps, which is exact because every
/// append ends by evicting the entries not seen in it or the one before, and
/// by clearing the `stored` stamps of every iteration but the last
/// successful one: stamps of at most three consecutive iterations are ever
/// compared, and consecutive iterations never share a stamp. Stamps are
/// never 0 (an entry's "none").
struct Stamps;

impl Stamps {
    fn seen(iteration: u32) -> u8 {
        (iteration % 0xff) as u8 + 1
    }

    fn stored(iteration: u32) -> u16 {
        (iteration % 0xffff) as u16 + 1
    }
}

/// What an append changed in an entry, to undo if the scrape fails:
/// (entry index, `stored` and `explicit_timestamp` before).
type Undo = Vec<(u32, u16, bool)>;

#[derive(Debug, Clone)]
struct PrevSeries {
    series: SharedSeries,
    explicit_timestamp: bool,
}

/// Series state of one target.
#[derive(Debug)]
pub struct SeriesState {
    settings: SeriesSettings,
    cache: SeriesCache,
    /// Scrapes so far (u32: 136 years of 1 s scrapes).
    iteration: u32,
    /// The iteration of the last successful append, if its series are live
    /// (0 after a failure or `end`: nothing to mark stale).
    last_ok: u32,
    /// Series stored by the previous loop of this target (see `inherit`).
    inherited: HashMap<u64, PrevSeries>,
    auto: [SharedSeries; 5],
}

const AUTO_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

impl SeriesState {
    pub fn new(settings: SeriesSettings) -> Self {
        let auto = AUTO_NAMES.map(|name| {
            let mut b = settings.target_labels.builder();
            b.set(METRIC_NAME, name);
            SharedSeries::new(Series::new(b.build()))
        });
        SeriesState {
            settings,
            cache: SeriesCache::default(),
            iteration: 0,
            last_ok: 0,
            inherited: HashMap::new(),
            auto,
        }
    }

    /// Takes over the previous loop's last series, so that a restarted loop of
    /// the same target keeps staleness exact (no markers for series that go on).
    pub fn inherit(&mut self, old: SeriesState) {
        self.inherited = old.live_series().collect();
    }

    /// The series stored by the last successful append (and those inherited,
    /// until the first append), by label hash.
    fn live_series(&self) -> impl Iterator<Item = (u64, PrevSeries)> + '_ {
        let last_ok = (self.last_ok != 0).then(|| Stamps::stored(self.last_ok));
        let cached = self.cache.values().filter(move |e| Some(e.stored) == last_ok);
        let cached = cached.filter_map(|e| {
            let series = e.series.clone()?;
            let explicit_timestamp = e.explicit_timestamp;
            Some((series.hash(), PrevSeries { series, explicit_timestamp }))
        });
        self.inherited.iter().map(|(h, p)| (*h, p.clone())).chain(cached)
    }

    /// Appends one scrape: the parsed body's samples, stale markers and the
    /// automatic series, into `out`. `fetched` is the body and its format, or
    /// the fetch error's text. Returns the stats and the error that failed the
    /// scrape, if any.
    pub fn append(
        &mut self,
        fetched: Result<(&[u8], Format), String>,
        scrape_ms: i64,
        duration_secs: f64,
        out: &mut Vec<SeriesSample>,
    ) -> (AppendStats, Option<AppendError>) {
        self.iteration += 1;
        let start = out.len();
        let created = self.cache.created;
        let mut stats = AppendStats::default();
        // One entry per stored sample: sized once.
        let mut undo = Undo::with_capacity(self.cache.len());
        let result = match fetched {
            Ok((body, format)) => {
                self.append_body(body, format, scrape_ms, out, &mut stats, &mut undo)
            }
            Err(e) => Err(AppendError::Fetch(e)),
        };
        let error = match result {
            Ok(current) => {
                stats.stale_markers = self.mark_stale(Some(&current), scrape_ms, out);
                self.last_ok = self.iteration;
                None
            }
            Err(e) => {
                // The counts stay what was seen (Prometheus reports them too).
                out.truncate(start);
                self.unstore(undo);
                stats.stale_markers = self.mark_stale(None, scrape_ms, out);
                self.last_ok = 0;
                Some(e)
            }
        };
        self.inherited = HashMap::new();
        self.evict();
        if self.cache.created != created {
            self.cache.distinct = self.cache.labels_distinct();
        }
        let up = if error.is_none() { 1.0 } else { 0.0 };
        let values = [
            up,
            duration_secs,
            stats.scraped as f64,
            stats.post_relabel as f64,
            stats.series_added as f64,
        ];
        for (series, value) in self.auto.iter().zip(values) {
            out.push(SeriesSample { series: series.clone(), timestamp_ms: scrape_ms, value });
        }
        (stats, error)
    }

    /// Stale markers for every series of the last scrape and the automatic
    /// series: the target is gone.
    pub fn end(&mut self, at_ms: i64, out: &mut Vec<SeriesSample>) -> usize {
        let n = self.mark_stale(None, at_ms, out);
        self.last_ok = 0;
        self.inherited = HashMap::new();
        for series in &self.auto {
            out.push(SeriesSample {
                series: series.clone(),
                timestamp_ms: at_ms,
                value: stale_nan(),
            });
        }
        n + self.auto.len()
    }

    fn append_body(
        &mut self,
        body: &[u8],
        format: Format,
        scrape_ms: i64,
        out: &mut Vec<SeriesSample>,
        stats: &mut AppendStats,
        undo: &mut Undo,
    ) -> Result<HashSet<u64>, AppendError> {
        // Label hashes stored in this scrape (duplicates and staleness), kept
        // only while two entries may share their final labels: when the
        // cache's entries are known to have distinct label sets and every
        // sample is a hit, a series is stored twice only through the same
        // entry, which its stored stamp tells. The first new entry (which
        // may share the labels of another) switches to the set.
        let start = out.len();
        let capacity = self.cache.len();
        let mut seen_this_scrape: Option<HashSet<u64>> = (!self.cache.distinct
            || !self.inherited.is_empty())
        .then(|| HashSet::with_capacity(capacity));
        let limit = self.settings.limits.sample_limit;
        let mut over_limit = false;
        for entry in Parser::new(format, body) {
            let Entry::Sample(sample) = entry.map_err(AppendError::Parse)? else { continue };
            stats.scraped += 1;
            let iteration = self.iteration;
            let settings = &self.settings;
            let (index, entry, hit) = self.cache.get_or_insert(sample.series, || {
                Ok(Self::label_sample(settings, &sample)?
                    .map(|l| SharedSeries::new(Series::new(l))))
            })?;
            entry.last_seen = Stamps::seen(iteration);
            let Some(series) = &entry.series else { continue };
            let hash = series.hash();
            stats.post_relabel += 1;
            // Over the limit: keep counting to the end (the automatic series
            // report the whole body, as in Prometheus), store nothing.
            if over_limit || (limit > 0 && stats.post_relabel > limit) {
                over_limit = true;
                continue;
            }
            if !hit && seen_this_scrape.is_none() {
                let mut set = HashSet::with_capacity(capacity);
                set.extend(out[start..].iter().map(|s| s.series.hash()));
                seen_this_scrape = Some(set);
            }
            let duplicate = match &mut seen_this_scrape {
                Some(set) => !set.insert(hash),
                None => entry.stored == Stamps::stored(iteration),
            };
            if duplicate {
                stats.duplicates += 1;
                continue;
            }
            let explicit = sample.timestamp_ms.is_some() && self.settings.honor_timestamps;
            let timestamp_ms = match sample.timestamp_ms {
                Some(t) if self.settings.honor_timestamps => t,
                _ => scrape_ms,
            };
            if !hit && !self.inherited.contains_key(&hash) {
                stats.series_added += 1;
            }
            out.push(SeriesSample { series: series.clone(), timestamp_ms, value: sample.value });
            undo.push((index, entry.stored, entry.explicit_timestamp));
            entry.stored = Stamps::stored(iteration);
            entry.explicit_timestamp = explicit;
        }
        if over_limit {
            return Err(AppendError::SampleLimit(limit));
        }
        Ok(seen_this_scrape.unwrap_or_default())
    }

    /// The final label set of a scraped sample, or `None` when relabeling
    /// dropped it (Prometheus `mutateSampleLabels` + `verifyLabelLimits`).
    fn label_sample(
        settings: &SeriesSettings,
        sample: &crate::exposition::Sample<'_>,
    ) -> Result<Option<Labels>, AppendError> {
        let mut b = LabelsBuilder::default();
        b.set(METRIC_NAME, sample.name.as_ref());
        let mut names: Vec<&str> = Vec::new();
        let labels: Vec<_> = sample.labels().collect();
        for l in &labels {
            if l.name == METRIC_NAME || names.contains(&l.name.as_ref()) {
                return Err(AppendError::DuplicateLabel {
                    name: l.name.to_string(),
                    series: sample.series.to_owned(),
                });
            }
            names.push(l.name.as_ref());
            b.set(l.name.as_ref(), l.value.as_ref());
        }
        Self::apply_target_labels(settings, &mut b);
        if !relabel::process(&settings.metric_relabel, &mut b) {
            return Ok(None);
        }
        let lset = b.build();
        if !valid_series(&lset) {
            return Err(AppendError::InvalidSeries(sample.series.to_owned()));
        }
        Self::check_limits(settings, &lset)?;
        Ok(Some(lset))
    }

    /// honor_labels: scraped labels win. Otherwise target labels win and a
    /// clashing scraped label is kept as `exported_<name>` (repeated until free).
    fn apply_target_labels(settings: &SeriesSettings, b: &mut LabelsBuilder) {
        let target = &settings.target_labels;
        if settings.honor_labels {
            for l in target {
                if !b.has(l.name) {
                    b.set(l.name, l.value);
                }
            }
            return;
        }
        let mut conflicts: Vec<(String, String)> = Vec::new();
        for l in target {
            let exposed = b.get(l.name);
            if !exposed.is_empty() {
                conflicts.push((l.name.to_owned(), exposed.to_owned()));
            }
            b.set(l.name, l.value);
        }
        // Shorter names first, as Prometheus resolves them.
        conflicts.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
        for (name, value) in conflicts {
            let mut exported = format!("exported_{name}");
            while b.has(&exported) {
                exported.insert_str(0, "exported_");
            }
            b.set(exported, value);
        }
    }

    fn check_limits(settings: &SeriesSettings, lset: &Labels) -> Result<(), AppendError> {
        let limits = &settings.limits;
        let metric = || lset.get(METRIC_NAME).unwrap_or_default().to_owned();
        if limits.label_limit > 0 && lset.len() > limits.label_limit {
            return Err(AppendError::LabelLimit {
                metric: metric(),
                count: lset.len(),
                limit: limits.label_limit,
            });
        }
        for l in lset {
            let (n, v) = (l.name.chars().count(), l.value.chars().count());
            if limits.label_name_length_limit > 0 && n > limits.label_name_length_limit {
                return Err(AppendError::LabelNameLength {
                    metric: metric(),
                    name: l.name.to_owned(),
                    len: n,
                    limit: limits.label_name_length_limit,
                });
            }
            if limits.label_value_length_limit > 0 && v > limits.label_value_length_limit {
                return Err(AppendError::LabelValueLength {
                    metric: metric(),
                    name: l.name.to_owned(),
                    value: l.value.to_owned(),
                    len: v,
                    limit: limits.label_value_length_limit,
                });
            }
        }
        Ok(())
    }

    /// A failed append stored nothing: entries it marked as stored go back
    /// to what they were.
    fn unstore(&mut self, undo: Undo) {
        for (index, stored, explicit) in undo {
            let e = &mut self.cache.entries[index as usize];
            (e.stored, e.explicit_timestamp) = (stored, explicit);
        }
    }

    /// Stale markers for the live series (see `live_series`) whose label
    /// hash is absent from `current` (all of them when `current` is `None`).
    fn mark_stale(
        &self,
        current: Option<&HashSet<u64>>,
        at_ms: i64,
        out: &mut Vec<SeriesSample>,
    ) -> usize {
        let mut n = 0;
        for (hash, prev) in self.live_series() {
            if current.is_some_and(|c| c.contains(&hash)) {
                continue;
            }
            if prev.explicit_timestamp && !self.settings.track_timestamps_staleness {
                continue;
            }
            out.push(SeriesSample { series: prev.series, timestamp_ms: at_ms, value: stale_nan() });
            n += 1;
        }
        n
    }

    /// Drops cache entries not seen in this scrape or the one before, and
    /// clears the `stored` stamps of all but the last successful scrape
    /// (see [`Stamps`]). Runs once `last_ok` is set for this scrape.
    fn evict(&mut self) {
        let seen = [Stamps::seen(self.iteration), Stamps::seen(self.iteration.saturating_sub(1))];
        let live = (self.last_ok != 0).then(|| Stamps::stored(self.last_ok));
        self.cache.retain(|e| {
            if Some(e.stored) != live {
                e.stored = 0;
            }
            seen.contains(&e.last_seen)
        });
    }
}

/// The series cache: entries in one dense vector, found through a hash
/// table of their indexes (empty hash-table slots cost 4 bytes, not a whole
/// entry, 24 bytes). An entry is keyed by 96 bits of a hash of its raw
/// series text (XXH3-128, seeded per process so no target can aim for a
/// collision), not by the text itself: 12 bytes instead of the text (about
/// 55 bytes a series on a typical body). Two texts of one target colliding
/// is a chance of about n²/2⁹⁷ (below 10⁻¹⁷ for a million series).
/// Evicting rebuilds the index.
#[derive(Debug)]
struct SeriesCache {
    index: hashbrown::HashTable<u32>,
    entries: Vec<CacheEntry>,
    seed: u64,
    /// Entries made so far: a change tells that `distinct` must be checked.
    created: u64,
    /// No two entries' series have the same label set (by hash), as of the
    /// last check; evicting keeps it true.
    distinct: bool,
    /// The entry after the last one found or made: the likely next.
    next: u32,
}

impl Default for SeriesCache {
    fn default() -> Self {
        SeriesCache {
            index: Default::default(),
            entries: Vec::new(),
            seed: key_seed(),
            created: 0,
            distinct: true,
            next: 0,
        }
    }
}

/// How many entries ahead of a hit its successor's series is prefetched.
const PREFETCH_AHEAD: usize = 4;

/// The process' seed of series-text hashes.
fn key_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(rand::random)
}

/// The hash-table hash of a key: its low half (XXH3 mixes every bit).
fn bucket_hash(key: [u32; 3]) -> u64 {
    u64::from(key[0]) | u64::from(key[1]) << 32
}

impl SeriesCache {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn values(&self) -> impl Iterator<Item = &CacheEntry> {
        self.entries.iter()
    }

    /// The index and entry of the raw series text `text` and whether it was
    /// cached; `make` gives a missing one's series (its error is returned
    /// and nothing is cached). A new entry is unseen and unstored.
    fn get_or_insert<E>(
        &mut self,
        text: &str,
        make: impl FnOnce() -> Result<Option<SharedSeries>, E>,
    ) -> Result<(u32, &mut CacheEntry, bool), E> {
        let key = xxhash_rust::xxh3::xxh3_128_with_seed(text.as_bytes(), self.seed);
        let key = [key as u32, (key >> 32) as u32, (key >> 64) as u32];
        // A body lists its series in the same order at every scrape, as
        // the entries were made: the entry after the last one found is
        // tried first, without probing the index (keys are unique, so a
        // match is the entry).
        let guess = self.next as usize;
        if self.entries.get(guess).is_some_and(|e| e.key == key) {
            return Ok((self.hit(guess), &mut self.entries[guess], true));
        }
        let entries = &self.entries;
        let found = self.index.entry(
            bucket_hash(key),
            |&i| entries[i as usize].key == key,
            |&i| bucket_hash(entries[i as usize].key),
        );
        match found {
            hash_table::Entry::Occupied(o) => {
                let i = *o.get() as usize;
                Ok((self.hit(i), &mut self.entries[i], true))
            }
            hash_table::Entry::Vacant(v) => {
                let entry = CacheEntry {
                    key,
                    series: make()?,
                    last_seen: 0,
                    stored: 0,
                    explicit_timestamp: false,
                };
                let i = u32::try_from(self.entries.len())
                    .expect("BUG: over 4 billion series in one target");
                v.insert(i);
                self.entries.push(entry);
                self.created += 1;
                self.next = i + 1;
                Ok((i, &mut self.entries[i as usize], false))
            }
        }
    }

    /// Records a hit on entry `i` and returns its index. The entry a few
    /// lines on (most likely next but some, by the body's order) has its
    /// series, whose memory is rarely cached, loaded meanwhile.
    fn hit(&mut self, i: usize) -> u32 {
        if let Some(Some(ahead)) = self.entries.get(i + PREFETCH_AHEAD).map(|e| &e.series) {
            crate::labels::prefetch(ahead);
        }
        self.next = i as u32 + 1;
        i as u32
    }

    /// Whether no two entries' series have the same label set (by hash).
    fn labels_distinct(&self) -> bool {
        let mut hashes = HashSet::with_capacity(self.entries.len());
        self.entries.iter().filter_map(|e| e.series.as_ref()).all(|s| hashes.insert(s.hash()))
    }

    /// Keeps the entries for which `keep` (which may update them) says so,
    /// re-indexing only when one goes.
    fn retain(&mut self, keep: impl FnMut(&mut CacheEntry) -> bool) {
        let before = self.entries.len();
        self.entries.retain_mut(keep);
        if self.entries.len() == before {
            self.trim();
            return;
        }
        self.index.clear();
        let entries = &self.entries;
        for (i, e) in entries.iter().enumerate() {
            self.index.insert_unique(bucket_hash(e.key), i as u32, |&j| {
                bucket_hash(entries[j as usize].key)
            });
        }
        self.trim();
    }

    /// Gives back what growing by doubling left unused (a target's series
    /// are mostly the same scrape after scrape: the first scrape's doubling
    /// would otherwise waste up to half of the cache for good).
    fn trim(&mut self) {
        if self.entries.capacity() > self.entries.len() + self.entries.len() / 4 {
            self.entries.shrink_to_fit();
        }
    }
}

/// A series needs a non-empty metric name and non-empty label names. Names
/// may be any UTF-8 (the quoted names of the newer text format), as
/// Prometheus 3 validates them; relabeling only ever writes classic names.
fn valid_series(lset: &Labels) -> bool {
    lset.get(METRIC_NAME).is_some_and(|n| !n.is_empty()) && lset.iter().all(|l| !l.name.is_empty())
}

#[cfg(test)]
#[path = "series_tests.rs"]
mod tests;
