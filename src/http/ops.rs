//! Operations endpoints: `/readyz` on the public listener (for load
//! balancers) and `GET /metrics` on its own listener (`metrics_listen`),
//! which is not the public one so that metrics stay private by default.
//!
//! Owns: those two routes. May not touch: what is measured (`telemetry`).

use crate::state::AppState;
use crate::store::Store;
use crate::telemetry::Metrics;
use crate::wire::replies::Readiness;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use tokio::net::TcpListener;

/// `GET /readyz`: 200 `{"status":"ready"}`, or 503 `{"status":"unavailable","reason":…}`.
pub(super) async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    match app.readiness.status() {
        Ok(()) => (StatusCode::OK, axum::Json(Readiness { status: "ready", reason: None })),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Readiness { status: "unavailable", reason: Some(reason) }),
        ),
    }
}

/// Counts requests that ended in 500 `internal`: storage failures (each is
/// logged with its cause where it happened).
pub(super) async fn count_internal(State(app): State<AppState>, res: Response) -> Response {
    if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        app.metrics.dependency_error(crate::telemetry::Dependency::Database);
    }
    res
}

/// Serves `GET /metrics` on `listener` until `stop` turns true.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let router = Router::new().route("/metrics", get(render)).with_state((metrics, store));
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stopped).await {
        tracing::error!(error = %e, "metrics listener failed");
    }
}

async fn render(State((metrics, store)): State<(Arc<Metrics>, Arc<dyn Store>)>) -> impl IntoResponse {
    // Counted here, at scrape time, rather than on every queue and claim.
    match store.pending_push_jobs().await {
        Ok(n) => metrics.push_pending(n),
        Err(_) => metrics.dependency_error(crate::telemetry::Dependency::Database),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render())
}
