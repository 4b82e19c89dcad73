//! The `filesystem` collector: `statfs(2)` of every mount listed in
//! `<proc>/1/mounts` (or `<proc>/mounts` when that does not exist), as
//! node_exporter 1.5's `filesystem_linux.go` does, with Debian 1.5's default
//! `--collector.filesystem.mount-points-exclude` (upstream's is
//! [`UPSTREAM_MOUNT_POINTS_EXCLUDE`]) and `fs-types-exclude` (the same in
//! both). Both regexes are unanchored (Go's `MatchString`); an empty one
//! matches, so excludes, every mount, as in node_exporter (`^$` excludes none).
//! Labels are `device`, `fstype` and `mountpoint`, the mount point with the
//! root filesystem prefix (`Roots::root`) stripped; the stat is made on
//! `<root>/<mountpoint>`.
//!
//! Grammar of `mounts` (`fstab(5)`): per line, whitespace-separated device,
//! mount point (with `\040` for space and `\011` for tab), type, options,
//! and two numbers; lines with fewer than four fields are errors.
//!
//! Hung mounts: each `statfs` runs on its own thread and is waited for at most
//! `mount_timeout` (node_exporter's `--collector.filesystem.mount-timeout`,
//! 5 s). A mount that does not answer in time is reported with
//! `node_filesystem_device_error 1` and remembered as stuck: later collections
//! skip it (device error 1) until its pending `statfs` returns, as
//! node_exporter's stuck-mount watcher does. Unlike node_exporter, the
//! collection that first meets the hung mount does not block either.
//! Concurrency: the stuck set is shared between the collector and those
//! threads behind a mutex held only to insert, remove or look up.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regex::Regex;

use super::procfile::LineError;
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// Debian's node_exporter 1.5 default `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// Upstream node_exporter 1.5's default (the official image's).
pub const UPSTREAM_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter 1.5's default `--collector.filesystem.fs-types-exclude`
/// (Debian's and upstream's).
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// node_exporter's default `--collector.filesystem.mount-timeout`.
pub const DEFAULT_MOUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// One line of the mounts file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mount {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
    pub options: String,
}

/// Parses a mounts file. `root` is the root filesystem prefix to strip from
/// mount points ("/" strips nothing).
pub fn parse_mounts(text: &str, root: &str) -> Result<Vec<Mount>, LineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 4 {
            return Err(LineError::new(
                i + 1,
                format!("malformed mount point information: {line:?}"),
            ));
        }
        let mount_point = parts[1].replace("\\040", " ").replace("\\011", "\t");
        out.push(Mount {
            device: parts[0].to_owned(),
            mount_point: strip_root(&mount_point, root),
            fs_type: parts[2].to_owned(),
            options: parts[3].to_owned(),
        });
    }
    Ok(out)
}

/// node_exporter's `rootfsStripPrefix`, on whole path components (a trailing
/// "/" on the root is ignored; `/host/rootfs` does not lose `/host/root`).
fn strip_root(path: &str, root: &str) -> String {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return path.to_owned();
    }
    match path.strip_prefix(root) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

/// What `statfs` reports, in node_exporter's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    pub size: f64,
    pub free: f64,
    pub avail: f64,
    pub files: f64,
    pub files_free: f64,
}

/// The `filesystem` collector.
#[derive(Debug)]
pub struct Filesystem {
    mount_points_exclude: Regex,
    fs_types_exclude: Regex,
    mount_timeout: Duration,
    stuck: Arc<Mutex<HashSet<String>>>,
    /// `statfs(2)`; tests put a slow stand-in here.
    stat_fn: fn(&Path) -> std::io::Result<FsStats>,
}

impl Default for Filesystem {
    fn default() -> Self {
        Filesystem::new(
            DEFAULT_MOUNT_POINTS_EXCLUDE,
            DEFAULT_FS_TYPES_EXCLUDE,
            DEFAULT_MOUNT_TIMEOUT,
        )
        .expect("BUG: default filesystem regexes")
    }
}

impl Filesystem {
    /// A collector with other excludes (regexes matched as Go's `MatchString`)
    /// and stat timeout.
    pub fn new(
        mount_points_exclude: &str,
        fs_types_exclude: &str,
        mount_timeout: Duration,
    ) -> Result<Self, regex::Error> {
        Ok(Filesystem {
            mount_points_exclude: Regex::new(mount_points_exclude)?,
            fs_types_exclude: Regex::new(fs_types_exclude)?,
            mount_timeout,
            stuck: Arc::default(),
            stat_fn: statfs,
        })
    }

    /// The mounts to report, excludes applied, duplicates removed.
    fn selected(&self, mounts: Vec<Mount>) -> Vec<Mount> {
        let mut seen = HashSet::new();
        mounts
            .into_iter()
            .filter(|m| !self.mount_points_exclude.is_match(&m.mount_point))
            .filter(|m| !self.fs_types_exclude.is_match(&m.fs_type))
            .filter(|m| seen.insert((m.device.clone(), m.mount_point.clone(), m.fs_type.clone())))
            .collect()
    }

    /// `statfs` of every target (mount point, path to stat), in order, on a
    /// helper thread; each answer is waited for at most the mount timeout.
    /// `None` for an error, a timeout (the mount is then marked stuck and a
    /// new helper takes the remaining targets) or a mount already stuck.
    fn stat_all(&self, targets: &[(String, PathBuf)]) -> Vec<Option<FsStats>> {
        let mut results = vec![None; targets.len()];
        let mut pending: Vec<usize> = {
            let stuck = self.stuck.lock().expect("BUG: stuck set poisoned");
            let fresh = |&i: &usize| {
                let is_stuck = stuck.contains(&targets[i].0);
                if is_stuck {
                    let mp = &targets[i].0;
                    tracing::debug!(mountpoint = %mp, "mount point is in an unresponsive state");
                }
                !is_stuck
            };
            (0..targets.len()).filter(fresh).collect()
        };
        while !pending.is_empty() {
            let (tx, rx) = mpsc::channel();
            let batch: Vec<(usize, String, PathBuf)> =
                pending.iter().map(|&i| (i, targets[i].0.clone(), targets[i].1.clone())).collect();
            let (stuck, stat_fn) = (Arc::clone(&self.stuck), self.stat_fn);
            let spawned = std::thread::Builder::new()
                .name("tern-statfs".into())
                .spawn(move || stat_worker(batch, stat_fn, &stuck, &tx));
            if let Err(e) = spawned {
                tracing::debug!(error = %e, "cannot spawn statfs thread");
                break;
            }
            let mut answered = 0;
            while answered < pending.len() {
                let next = match rx.recv_timeout(self.mount_timeout) {
                    Ok(answer) => Some(answer),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.give_up(&rx, &targets[pending[answered]].0)
                    }
                };
                let Some((i, result)) = next else { break };
                results[i] = match result {
                    Ok(stats) => Some(stats),
                    Err(e) => {
                        let mp = &targets[i].0;
                        tracing::debug!(mountpoint = %mp, error = %e, "error on statfs() system call");
                        None
                    }
                };
                answered += 1;
            }
            // The first unanswered target hung or its helper died: the rest
            // go to a new helper.
            pending.drain(..(answered + 1).min(pending.len()));
        }
        results
    }

    /// After a timeout: takes an answer that arrived meanwhile, or marks the
    /// mount stuck. Under the lock the helper holds while it unmarks and
    /// answers, so a mark is never left behind by a helper that has finished.
    fn give_up(&self, rx: &mpsc::Receiver<StatAnswer>, mount_point: &str) -> Option<StatAnswer> {
        let mut stuck = self.stuck.lock().expect("BUG: stuck set poisoned");
        if let Ok(answer) = rx.try_recv() {
            return Some(answer);
        }
        stuck.insert(mount_point.to_owned());
        tracing::error!(
            mountpoint = mount_point,
            timeout = ?self.mount_timeout,
            "mount point timed out, it is being labeled as stuck and will not be monitored"
        );
        None
    }
}

/// One helper's answer: the target's index and its `statfs` result.
type StatAnswer = (usize, std::io::Result<FsStats>);

/// A helper thread: stats each target in order; after each, unmarks the mount
/// and answers under the stuck-set lock; stops when nobody listens any more.
fn stat_worker(
    batch: Vec<(usize, String, PathBuf)>,
    stat_fn: fn(&Path) -> std::io::Result<FsStats>,
    stuck: &Mutex<HashSet<String>>,
    tx: &mpsc::Sender<StatAnswer>,
) {
    for (i, mount_point, path) in batch {
        let result = stat_fn(&path);
        let mut marks = stuck.lock().expect("BUG: stuck set poisoned");
        let recovered = marks.remove(&mount_point);
        let listened = tx.send((i, result)).is_ok();
        drop(marks);
        if recovered {
            tracing::warn!(mountpoint = %mount_point, "mount point has recovered, monitoring will resume");
        }
        if !listened {
            return;
        }
    }
}

fn statfs(path: &Path) -> std::io::Result<FsStats> {
    let s = rustix::fs::statfs(path)?;
    let bsize = s.f_bsize as f64;
    Ok(FsStats {
        size: s.f_blocks as f64 * bsize,
        free: s.f_bfree as f64 * bsize,
        avail: s.f_bavail as f64 * bsize,
        files: s.f_files as f64,
        files_free: s.f_ffree as f64,
    })
}

/// Pushes one mount's samples: `device_error`, then (without error) the rest.
pub fn push_mount(out: &mut MetricSet, m: &Mount, stats: Option<FsStats>) {
    let labels = [
        ("device", m.device.as_str()),
        ("fstype", m.fs_type.as_str()),
        ("mountpoint", m.mount_point.as_str()),
    ];
    let gauge = |out: &mut MetricSet, name: &str, help: &str, v: f64| {
        out.push(name, help, Kind::Gauge, &labels, v)
    };
    gauge(
        out,
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
        if stats.is_some() { 0.0 } else { 1.0 },
    );
    let Some(s) = stats else { return };
    let readonly = m.options.split(',').any(|o| o == "ro");
    gauge(out, "node_filesystem_size_bytes", "Filesystem size in bytes.", s.size);
    gauge(out, "node_filesystem_free_bytes", "Filesystem free space in bytes.", s.free);
    gauge(
        out,
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
        s.avail,
    );
    gauge(out, "node_filesystem_files", "Filesystem total file nodes.", s.files);
    gauge(out, "node_filesystem_files_free", "Filesystem total free file nodes.", s.files_free);
    gauge(
        out,
        "node_filesystem_readonly",
        "Filesystem read-only status.",
        if readonly { 1.0 } else { 0.0 },
    );
}

impl Collector for Filesystem {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let mut path = ctx.roots.proc("1/mounts");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                path = ctx.roots.proc("mounts");
                read_file(&path)?
            }
            Err(e) => return Err(CollectorError::io(&path, e)),
        };
        let root = ctx.roots.root.to_string_lossy();
        let mounts = parse_mounts(&text, &root).map_err(|e| e.at(&path))?;
        let mounts = self.selected(mounts);
        let targets: Vec<(String, PathBuf)> = mounts
            .iter()
            .map(|m| {
                (m.mount_point.clone(), ctx.roots.root.join(m.mount_point.trim_start_matches('/')))
            })
            .collect();
        for (m, stats) in mounts.iter().zip(self.stat_all(&targets)) {
            push_mount(out, m, stats);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture, run, temp_roots, write};
    use crate::hostmetrics::Roots;

    fn mount(device: &str, mp: &str, fs: &str, options: &str) -> Mount {
        Mount {
            device: device.into(),
            mount_point: mp.into(),
            fs_type: fs.into(),
            options: options.into(),
        }
    }

    #[test]
    fn parses_mounts_unescaping_and_stripping_the_root() {
        let text = "/dev/vda /host/root ext4 rw,relatime 0 0\n/dev/sdb1 /host/root/mnt/my\\040disk\\011x xfs ro 0 0\nproc /proc proc rw 0 0\n";
        assert_eq!(
            parse_mounts(text, "/host/root").unwrap(),
            vec![
                mount("/dev/vda", "/", "ext4", "rw,relatime"),
                mount("/dev/sdb1", "/mnt/my disk\tx", "xfs", "ro"),
                mount("proc", "/proc", "proc", "rw"),
            ]
        );
        assert_eq!(parse_mounts(text, "/").unwrap()[0].mount_point, "/host/root");
        assert_eq!(parse_mounts(text, "/host/root/").unwrap()[1].mount_point, "/mnt/my disk\tx");
        assert_eq!(parse_mounts(text, "/host/root/").unwrap()[2].mount_point, "/proc");
        assert_eq!(strip_root("/host/rootfs/x", "/host/root"), "/host/rootfs/x");
    }

    #[test]
    fn rejects_truncated_lines_with_their_line() {
        let err = parse_mounts("/dev/vda / ext4 rw 0 0\n/dev/vdb /data\n", "/").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("malformed mount point information"), "{err}");
    }

    #[test]
    fn default_excludes_keep_real_filesystems_only() {
        let text = std::fs::read_to_string(fixture("proc/1/mounts")).unwrap();
        let mounts = parse_mounts(&text, "/").unwrap();
        let kept: Vec<String> =
            Filesystem::default().selected(mounts).into_iter().map(|m| m.mount_point).collect();
        assert_eq!(kept, ["/"]);
        let more = vec![
            mount("tmpfs", "/run", "tmpfs", "rw"),
            mount("tmpfs", "/run/credentials/x.service", "tmpfs", "rw"),
            mount("overlay", "/var/lib/docker/overlay2/abc/merged", "overlay", "rw"),
            mount("/dev/sdb", "/data", "xfs", "rw"),
            mount("/dev/sdb", "/data", "xfs", "rw"),
        ];
        let kept: Vec<String> = Filesystem::default()
            .selected(more.clone())
            .into_iter()
            .map(|m| m.mount_point)
            .collect();
        assert_eq!(kept, ["/data"]);
        let upstream = Filesystem::new(
            UPSTREAM_MOUNT_POINTS_EXCLUDE,
            DEFAULT_FS_TYPES_EXCLUDE,
            DEFAULT_MOUNT_TIMEOUT,
        )
        .unwrap();
        let kept: Vec<String> =
            upstream.selected(more.clone()).into_iter().map(|m| m.mount_point).collect();
        assert_eq!(kept, ["/run", "/data"]);
        let mounts = parse_mounts(&text, "/").unwrap();
        let kept: Vec<String> =
            upstream.selected(mounts).into_iter().map(|m| m.mount_point).collect();
        assert_eq!(kept, ["/", "/mnt/sandboxing/model_tools_env/v1/python"]);
        // As Go's regexp: an empty exclude matches every mount, `^$` none.
        let all = Filesystem::new("", "^$", DEFAULT_MOUNT_TIMEOUT).unwrap();
        assert!(all.selected(more.clone()).is_empty());
        let none = Filesystem::new("^$", "^$", DEFAULT_MOUNT_TIMEOUT).unwrap();
        assert_eq!(none.selected(more).len(), 4);
    }

    #[test]
    fn stats_a_real_directory_and_reports_missing_ones_as_device_errors() {
        let (dir, roots) = temp_roots();
        std::fs::create_dir_all(roots.root("data")).unwrap();
        write(
            roots.proc("mounts"),
            "/dev/sdz /data ext4 rw,noatime 0 0\n/dev/sdy /gone xfs ro 0 0\n/dev/sdx /ro ext4 ro,noatime 0 0\n",
        );
        std::fs::create_dir_all(roots.root("ro")).unwrap();
        let set = run(&Filesystem::default(), &roots).unwrap();
        let data = [("device", "/dev/sdz"), ("fstype", "ext4"), ("mountpoint", "/data")];
        assert_eq!(set.get("node_filesystem_device_error", &data), Some(0.0));
        assert!(set.get("node_filesystem_size_bytes", &data).unwrap() > 0.0);
        assert_eq!(set.get("node_filesystem_readonly", &data), Some(0.0));
        let gone = [("device", "/dev/sdy"), ("fstype", "xfs"), ("mountpoint", "/gone")];
        assert_eq!(set.get("node_filesystem_device_error", &gone), Some(1.0));
        assert_eq!(set.get("node_filesystem_size_bytes", &gone), None);
        let ro = [("device", "/dev/sdx"), ("fstype", "ext4"), ("mountpoint", "/ro")];
        assert_eq!(set.get("node_filesystem_readonly", &ro), Some(1.0));
        drop(dir);
    }

    #[test]
    fn falls_back_to_proc_mounts_and_fails_without_either() {
        let (_dir, roots) = temp_roots();
        let err = run(&Filesystem::default(), &roots).unwrap_err();
        assert!(err.to_string().contains("proc/mounts"), "{err}");
        let roots = Roots { proc: fixture("proc"), ..roots };
        assert!(run(&Filesystem::default(), &roots).is_ok());
    }

    static SLOW_STATS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// Stands in for `statfs`: a mount point ending in "hung" answers after
    /// 1 s, as a hung NFS mount that comes back; others at once.
    fn slow_stat(path: &Path) -> std::io::Result<FsStats> {
        if path.ends_with("hung") {
            SLOW_STATS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(1));
        }
        Ok(FsStats { size: 4.0, free: 3.0, avail: 2.0, files: 1.0, files_free: 1.0 })
    }

    #[test]
    fn a_hung_stat_times_out_and_the_mount_stays_stuck_until_it_answers() {
        let mut fs = Filesystem::new(
            DEFAULT_MOUNT_POINTS_EXCLUDE,
            DEFAULT_FS_TYPES_EXCLUDE,
            Duration::from_millis(50),
        )
        .unwrap();
        fs.stat_fn = slow_stat;
        let (_dir, roots) = temp_roots();
        write(roots.proc("mounts"), "nfs:/export /hung nfs4 rw 0 0\n/dev/sdb /data ext4 rw 0 0\n");
        let data = [("device", "/dev/sdb"), ("fstype", "ext4"), ("mountpoint", "/data")];
        let hung = [("device", "nfs:/export"), ("fstype", "nfs4"), ("mountpoint", "/hung")];

        let start = std::time::Instant::now();
        let set = run(&fs, &roots).unwrap();
        assert!(
            start.elapsed() < Duration::from_millis(800),
            "collection blocked: {:?}",
            start.elapsed()
        );
        assert_eq!(set.get("node_filesystem_device_error", &hung), Some(1.0));
        assert_eq!(set.get("node_filesystem_size_bytes", &hung), None);
        assert_eq!(
            set.get("node_filesystem_size_bytes", &data),
            Some(4.0),
            "mounts after a hung one"
        );

        // Still pending: skipped at once, without a second stat thread.
        let set = run(&fs, &roots).unwrap();
        let calls = SLOW_STATS.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(calls, 1, "stuck mount was statted again");
        assert_eq!(set.get("node_filesystem_device_error", &hung), Some(1.0));

        // Once the pending stat returns, the mount is monitored again.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while fs.stuck.lock().unwrap().contains("/hung") {
            assert!(std::time::Instant::now() < deadline, "mount never recovered");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut fs = fs;
        fs.mount_timeout = Duration::from_secs(5);
        let set = run(&fs, &roots).unwrap();
        assert_eq!(set.get("node_filesystem_device_error", &hung), Some(0.0));
        assert_eq!(set.get("node_filesystem_size_bytes", &hung), Some(4.0));
    }
}
