//! Namespaces made ahead: while a spec runs, the session makes the namespace that the next spec
//! of the same kind (same base name, same labels and pod-security levels) will ask for, and
//! waits for its `default` ServiceAccount and `kube-root-ca.crt`. The next spec then takes a
//! namespace that is already ready, and the cluster's controllers work while the current spec
//! does, not between specs.
//!
//! Only as many are made as specs of the run have not started yet ([`Spares::wanted`]): under
//! nextest's process per spec, and for the last spec of a run, none is. A spare is labelled like
//! any test namespace of the run; its name is recorded before its create call, so the ones no
//! spec took are deleted when the suite ends ([`Spares::drain`]), and an interrupted run leaves
//! them to the run-label cleanup like any other namespace.

use super::{NamespaceError, NamespaceSpec, namespace_labels};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// What makes two namespaces interchangeable: the base name and every label.
type Kind = (String, BTreeMap<String, String>);

fn kind_of(spec: &NamespaceSpec) -> Kind {
    (spec.base.clone(), namespace_labels(spec))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One namespace in the making: its name (known before the create call) and the task that
/// creates it and waits until it is ready.
#[derive(Debug)]
struct Spare {
    name: Arc<Mutex<Option<String>>>,
    task: JoinHandle<Result<String, NamespaceError>>,
}

/// The session's namespaces made ahead, by kind.
#[derive(Debug, Default)]
pub struct Spares {
    by_kind: Mutex<HashMap<Kind, VecDeque<Spare>>>,
}

/// How many spares of a kind to have in the making: one per spec that has not started yet,
/// up to the number that could start at once, minus those already in the making.
pub fn wanted(unstarted: usize, workers: usize, in_making: usize) -> usize {
    unstarted.min(workers.max(1)).saturating_sub(in_making)
}

/// A spare taken out of its queue and being waited for; dropped before the wait ends, it goes
/// back to the front of its queue.
struct Held<'a> {
    spares: &'a Spares,
    kind: Kind,
    spare: Option<Spare>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            lock(&self.spares.by_kind)
                .entry(std::mem::take(&mut self.kind))
                .or_default()
                .push_front(spare);
        }
    }
}

impl Spares {
    /// How many namespaces of `spec`'s kind are in the making or ready.
    pub fn in_making(&self, spec: &NamespaceSpec) -> usize {
        lock(&self.by_kind)
            .get(&kind_of(spec))
            .map_or(0, VecDeque::len)
    }

    /// Starts making one namespace of `spec`'s kind: `make` gets a slot for the name (to fill
    /// before its create call) and returns the name once the namespace is ready.
    pub fn start<F, Fut>(&self, spec: &NamespaceSpec, make: F)
    where
        F: FnOnce(Arc<Mutex<Option<String>>>) -> Fut,
        Fut: Future<Output = Result<String, NamespaceError>> + Send + 'static,
    {
        let name = Arc::new(Mutex::new(None));
        let task = tokio::spawn(make(name.clone()));
        lock(&self.by_kind)
            .entry(kind_of(spec))
            .or_default()
            .push_back(Spare { name, task });
    }

    /// Takes the oldest namespace of `spec`'s kind, waiting for it if it is still being made.
    /// `Ok(None)`: there is none. `Err(name)`: one was being made but failed; `name` (if its
    /// create call was made) is the caller's to delete.
    pub async fn take(&self, spec: &NamespaceSpec) -> Result<Option<String>, Option<String>> {
        let kind = kind_of(spec);
        let Some(spare) = lock(&self.by_kind)
            .get_mut(&kind)
            .and_then(VecDeque::pop_front)
        else {
            return Ok(None);
        };
        // A spec cancelled while it waits puts the spare back, so `drain` still deletes it.
        let mut held = Held {
            spares: self,
            kind,
            spare: Some(spare),
        };
        let done = match held.spare.as_mut() {
            Some(spare) => (&mut spare.task).await,
            None => return Ok(None),
        };
        let name = held.spare.take().and_then(|s| lock(&s.name).clone());
        match done {
            Ok(Ok(name)) => Ok(Some(name)),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "a namespace made ahead failed; making one now");
                Err(name)
            }
            Err(_) => Err(name),
        }
    }

    /// Stops making spares and returns the names of all that no spec took (their create calls
    /// may or may not have been made): the caller deletes them.
    pub fn drain(&self) -> Vec<String> {
        let spares: Vec<Spare> = lock(&self.by_kind)
            .drain()
            .flat_map(|(_, queue)| queue)
            .collect();
        spares
            .into_iter()
            .filter_map(|s| {
                s.task.abort();
                lock(&s.name).clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::PodSecurity;

    fn spec(base: &str, level: PodSecurity) -> NamespaceSpec {
        NamespaceSpec {
            base: base.into(),
            run_id: "r1".into(),
            enforce: level,
            warn: level,
            audit: level,
            labels: Default::default(),
        }
    }

    #[test]
    fn only_as_many_as_specs_still_to_start_and_workers_to_run_them() {
        assert_eq!(wanted(0, 8, 0), 0, "no spec left: nothing ahead");
        assert_eq!(wanted(49, 1, 0), 1, "serial: one ahead");
        assert_eq!(wanted(49, 1, 1), 0, "serial: already one ahead");
        assert_eq!(wanted(3, 8, 1), 2, "fewer specs left than workers");
        assert_eq!(wanted(40, 8, 8), 0);
        assert_eq!(wanted(5, 0, 0), 1, "zero workers counts as one");
    }

    #[tokio::test]
    async fn a_spare_is_taken_by_its_own_kind_only_and_in_order() {
        let spares = Spares::default();
        let restricted = spec("web", PodSecurity::Restricted);
        for n in ["web-1", "web-2"] {
            spares.start(&restricted, move |slot| {
                *lock(&slot) = Some(n.to_string());
                async move { Ok(n.to_string()) }
            });
        }
        assert_eq!(spares.in_making(&restricted), 2);
        let privileged = spec("web", PodSecurity::Privileged);
        assert_eq!(spares.take(&privileged).await, Ok(None));
        assert_eq!(
            spares.take(&spec("db", PodSecurity::Restricted)).await,
            Ok(None)
        );
        assert_eq!(spares.take(&restricted).await, Ok(Some("web-1".into())));
        assert_eq!(spares.take(&restricted).await, Ok(Some("web-2".into())));
        assert_eq!(spares.take(&restricted).await, Ok(None));
    }

    #[tokio::test]
    async fn a_failed_spare_hands_back_its_name_and_drain_returns_the_untaken() {
        let spares = Spares::default();
        let s = spec("pv", PodSecurity::Restricted);
        spares.start(&s, |slot| {
            *lock(&slot) = Some("pv-7".into());
            async move {
                Err(NamespaceError::NotReady {
                    name: "pv-7".into(),
                    what: "ServiceAccount `default`".into(),
                    waited: std::time::Duration::from_secs(1),
                })
            }
        });
        assert_eq!(spares.take(&s).await, Err(Some("pv-7".into())));
        spares.start(&s, |slot| {
            *lock(&slot) = Some("pv-8".into());
            std::future::pending()
        });
        spares.start(&s, |_| std::future::pending());
        assert_eq!(spares.drain(), vec!["pv-8".to_string()]);
        assert_eq!(spares.in_making(&s), 0);
    }

    #[tokio::test]
    async fn a_spec_cancelled_while_waiting_for_a_spare_puts_it_back_for_drain() {
        let spares = Spares::default();
        let s = spec("slow", PodSecurity::Restricted);
        spares.start(&s, |slot| {
            *lock(&slot) = Some("slow-1".into());
            std::future::pending()
        });
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), spares.take(&s)).await;
        assert!(waited.is_err(), "the spare never becomes ready");
        assert_eq!(spares.in_making(&s), 1, "back in its queue");
        assert_eq!(spares.drain(), vec!["slow-1".to_string()]);
    }
}
