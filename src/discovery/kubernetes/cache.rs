//! Groups of the single-object roles (node, pod, service, ingress) kept per
//! object and reused while the object, and for pods with node metadata the
//! node, keep their resourceVersion: an event then rebuilds one group, not
//! all of them.

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::discovery::TargetGroup;

/// See the module docs. One per provider.
#[derive(Debug, Default)]
pub struct GroupCache {
    /// Object key -> (version it was built from, its group if any).
    entries: HashMap<String, (String, Option<TargetGroup>)>,
    /// Entries of the pass in progress.
    next: HashMap<String, (String, Option<TargetGroup>)>,
}

/// The version of an object's group: its resourceVersion, and those of the
/// objects it joins (`extra`). `None` (no resourceVersion) is never reused.
fn version(meta: &ObjectMeta, extra: &[Option<&str>]) -> Option<String> {
    let mut v = meta.resource_version.clone()?;
    for e in extra {
        v.push('/');
        v.push_str(e.unwrap_or("-"));
    }
    Some(v)
}

impl GroupCache {
    /// The group of the object `meta`, reused if built from the same
    /// [`version`] (with the resourceVersions of the objects it joins,
    /// `extra`), else built now. Call for every current object, then
    /// [`GroupCache::finish`].
    pub fn group(
        &mut self,
        meta: &ObjectMeta,
        extra: &[Option<&str>],
        build: impl FnOnce() -> Option<TargetGroup>,
    ) -> Option<TargetGroup> {
        let version = version(meta, extra);
        let key = format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or("")
        );
        let reused = match (self.entries.remove(&key), &version) {
            (Some((old, group)), Some(v)) if old == *v => Some(group),
            _ => None,
        };
        let group = reused.unwrap_or_else(build);
        if let Some(v) = version {
            self.next.insert(key, (v, group.clone()));
        }
        group
    }

    /// Ends a pass: objects not seen in it are forgotten.
    pub fn finish(&mut self) {
        self.entries = std::mem::take(&mut self.next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, rv: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            resource_version: rv.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }

    fn group(source: &str) -> Option<TargetGroup> {
        Some(TargetGroup { source: source.into(), ..TargetGroup::default() })
    }

    #[test]
    fn groups_are_rebuilt_only_when_a_version_changes() {
        let mut cache = GroupCache::default();
        let builds = std::cell::Cell::new(0);
        let pass = |cache: &mut GroupCache, rv: &str, node: Option<&str>| {
            let m = meta("a", Some(rv));
            let g = cache.group(&m, &[node], || {
                builds.set(builds.get() + 1);
                group("pod/ns/a")
            });
            cache.finish();
            g
        };
        assert_eq!(pass(&mut cache, "1", Some("7")), group("pod/ns/a"));
        pass(&mut cache, "1", Some("7"));
        assert_eq!(builds.get(), 1, "same versions: reused");
        pass(&mut cache, "2", Some("7"));
        pass(&mut cache, "2", Some("8"));
        assert_eq!(builds.get(), 3, "object or node changed: rebuilt");

        // Without a resourceVersion nothing is kept; unseen objects go.
        let m = meta("b", None);
        cache.group(&m, &[], || group("b"));
        cache.finish();
        assert!(cache.entries.is_empty(), "{:?}", cache.entries.keys());
    }
}
