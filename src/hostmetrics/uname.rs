//! The `uname` collector, as node_exporter 1.5's `uname_linux.go`: the
//! `uname(2)` system call of the running kernel (not read from the roots; in
//! a container it is the host's kernel anyway), as one `node_uname_info`
//! series with a constant value of 1.

use super::{Collector, CollectorError, Context, Kind, MetricSet};

/// The `uname` collector.
#[derive(Debug, Default)]
pub struct Uname;

/// The six fields of `struct utsname`, as node_exporter labels them.
pub fn uname_labels() -> [(&'static str, String); 6] {
    let u = rustix::system::uname();
    let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
    [
        ("domainname", s(u.domainname())),
        ("machine", s(u.machine())),
        ("nodename", s(u.nodename())),
        ("release", s(u.release())),
        ("sysname", s(u.sysname())),
        ("version", s(u.version())),
    ]
}

impl Collector for Uname {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn update(&self, _ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let labels = uname_labels();
        let labels: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (*n, v.as_str())).collect();
        out.push(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            Kind::Gauge,
            &labels,
            1.0,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run};

    #[test]
    fn reports_the_running_kernel() {
        let out = run(&Uname, &fixture_roots()).unwrap();
        let text = out.to_text();
        assert!(text.contains("sysname=\"Linux\""), "{text}");
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert!(text.contains(&format!("release=\"{}\"", release.trim())), "{text}");
    }
}
