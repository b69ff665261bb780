//! Readiness (`GET /readyz`): may a load balancer send this node new
//! sockets? Not while it is draining for shutdown, nor while the database
//! or (in a cluster) Redis does not answer. Liveness (`/healthz`) is
//! separate: a node waiting for its database is alive and must not be
//! restarted for it.
//!
//! The dependencies are probed in the background every
//! [`Readiness::EVERY`], so a load balancer polling `/readyz` often costs
//! nothing and cannot pile up database round trips; a failed probe is
//! counted in `confab_dependency_errors_total`.

use super::{Dependency, Metrics};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One dependency check (the database, Redis).
#[async_trait::async_trait]
pub trait Probe: Send + Sync {
    /// Which dependency it checks.
    fn dependency(&self) -> Dependency;
    /// Succeeds if the dependency answered.
    async fn check(&self) -> Result<(), String>;
}

/// The node's readiness, as last probed.
pub struct Readiness {
    draining: AtomicBool,
    /// Per probe: did its last check succeed?
    up: Vec<AtomicBool>,
    /// A first round of probes ran (before it, "down" only means "not yet known").
    probed: AtomicBool,
    probes: Vec<Arc<dyn Probe>>,
}

impl Readiness {
    /// How often the probes run.
    pub const EVERY: Duration = Duration::from_secs(1);
    /// A probe that takes longer than this failed.
    const TIMEOUT: Duration = Duration::from_secs(2);

    /// Ready once the first round of probes passed ([`Readiness::probe_all`]).
    pub fn new(probes: Vec<Arc<dyn Probe>>) -> Self {
        let up = probes.iter().map(|_| AtomicBool::new(false)).collect();
        Self { draining: AtomicBool::new(false), up, probed: AtomicBool::new(false), probes }
    }

    /// Runs every probe once and records the results.
    pub async fn probe_all(&self, metrics: &Metrics) {
        for (probe, up) in self.probes.iter().zip(&self.up) {
            let ok = match tokio::time::timeout(Self::TIMEOUT, probe.check()).await {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::warn!(dependency = ?probe.dependency(), error = %e, "readiness probe failed");
                    false
                }
                Err(_) => {
                    tracing::warn!(dependency = ?probe.dependency(), "readiness probe timed out");
                    false
                }
            };
            if !ok {
                metrics.dependency_error(probe.dependency());
            }
            let was = up.swap(ok, Ordering::SeqCst);
            if ok && !was && self.probed.load(Ordering::SeqCst) {
                tracing::info!(dependency = ?probe.dependency(), "dependency reachable again");
            }
        }
        self.probed.store(true, Ordering::SeqCst);
    }

    /// Probes every [`Readiness::EVERY`] until the task is aborted; also
    /// keeps the metrics' histograms folded.
    pub fn spawn(self: &Arc<Self>, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Self::EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                me.probe_all(&metrics).await;
                metrics.upkeep();
            }
        })
    }

    /// The node stops taking new sockets: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// `Ok` if ready, else why not (for the `/readyz` body; no details of the failure).
    pub fn status(&self) -> Result<(), &'static str> {
        if self.draining.load(Ordering::SeqCst) {
            return Err("draining");
        }
        for (probe, up) in self.probes.iter().zip(&self.up) {
            if !up.load(Ordering::SeqCst) {
                return Err(match probe.dependency() {
                    Dependency::Database => "database unreachable",
                    Dependency::Redis => "redis unreachable",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(bool);

    #[async_trait::async_trait]
    impl Probe for Fixed {
        fn dependency(&self) -> Dependency {
            Dependency::Redis
        }
        async fn check(&self) -> Result<(), String> {
            if self.0 { Ok(()) } else { Err("down".into()) }
        }
    }

    #[tokio::test]
    async fn draining_and_failed_probes_make_the_node_unready() {
        let metrics = Metrics::new();
        let up = Readiness::new(vec![Arc::new(Fixed(true))]);
        assert_eq!(up.status(), Err("redis unreachable"), "not ready before the first probe");
        up.probe_all(&metrics).await;
        assert_eq!(up.status(), Ok(()));
        up.start_draining();
        assert_eq!(up.status(), Err("draining"));
        let down = Readiness::new(vec![Arc::new(Fixed(false))]);
        down.probe_all(&metrics).await;
        assert_eq!(down.status(), Err("redis unreachable"));
        assert!(metrics.render().contains(r#"confab_dependency_errors_total{dependency="redis"} 1"#));
    }
}
