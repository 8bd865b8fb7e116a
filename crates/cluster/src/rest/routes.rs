//! The HTTP routes: each handler asks the [`RestBackend`] and shapes the answer as Flink does.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::model::{
    ConfigEntry, ErrorResponse, JobIdWithStatus, JobIdsWithStatus, JobPlan, MultipleJobsDetails,
    TaskManagersInfo,
};
use super::RestBackend;

/// The dashboard: one page with inline CSS and JavaScript, no external resources.
const DASHBOARD_HTML: &str = include_str!("dashboard.html");

type Backend = Arc<dyn RestBackend>;

/// Serves the REST API and the dashboard on `listener` until the process ends (or an accept
/// error ends it).
pub async fn serve(listener: tokio::net::TcpListener, backend: Backend) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "rest api and dashboard listening");
    }
    axum::serve(listener, router(backend)).await
}

/// The routes of [`serve`], for embedding into another server.
pub fn router(backend: Backend) -> Router {
    let api = Router::new()
        .route("/overview", get(overview))
        .route("/jobs", get(jobs))
        .route("/jobs/overview", get(jobs_overview))
        .route("/jobs/{id}", get(job).patch(cancel_job))
        .route("/jobs/{id}/plan", get(job_plan))
        .route("/jobs/{id}/exceptions", get(job_exceptions))
        .route("/jobs/{id}/checkpoints", get(job_checkpoints))
        .route("/jobs/{id}/savepoints", axum::routing::post(trigger_savepoint))
        .route("/jobs/{id}/stop", axum::routing::post(stop_with_savepoint))
        .route("/taskmanagers", get(taskmanagers))
        .route("/config", get(config))
        .route("/jobmanager/config", get(config));
    Router::new()
        .route("/", get(dashboard))
        .route("/index.html", get(dashboard))
        .merge(api.clone())
        // Flink's versioned prefix: `/v1/jobs` is `/jobs`.
        .nest("/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(backend)
}

/// A JSON error response in Flink's shape, `{"errors": [...]}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorResponse {
            errors: vec![message.into()],
        }),
    )
        .into_response()
}

fn job_not_found(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("job {id} not found"))
}

async fn dashboard() -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Html(DASHBOARD_HTML)).into_response()
}

async fn overview(State(backend): State<Backend>) -> Response {
    Json(backend.overview()).into_response()
}

async fn jobs(State(backend): State<Backend>) -> Response {
    let jobs = backend
        .jobs()
        .into_iter()
        .map(|job| JobIdWithStatus {
            id: job.jid,
            status: job.state,
        })
        .collect();
    Json(JobIdsWithStatus { jobs }).into_response()
}

async fn jobs_overview(State(backend): State<Backend>) -> Response {
    Json(MultipleJobsDetails { jobs: backend.jobs() }).into_response()
}

async fn job(State(backend): State<Backend>, Path(id): Path<String>) -> Response {
    match backend.job(&id) {
        Some(details) => Json(details).into_response(),
        None => job_not_found(&id),
    }
}

async fn job_plan(State(backend): State<Backend>, Path(id): Path<String>) -> Response {
    match backend.job(&id) {
        Some(details) => Json(JobPlan { plan: details.plan }).into_response(),
        None => job_not_found(&id),
    }
}

/// `GET /jobs/{id}/exceptions`: the job's failures, latest as the root.
async fn job_exceptions(State(backend): State<Backend>, Path(id): Path<String>) -> Response {
    match backend.job(&id) {
        Some(details) => {
            let last = details.exceptions.last();
            Json(crate::rest::model::JobExceptions {
                root_exception: last.map(|e| e.exception.clone()),
                timestamp: last.map(|e| e.timestamp),
                all_exceptions: details.exceptions.clone(),
                truncated: false,
            })
            .into_response()
        }
        None => job_not_found(&id),
    }
}

#[derive(Debug, Deserialize)]
struct CancelParams {
    mode: Option<String>,
}

/// `PATCH /jobs/{id}[?mode=cancel]`: 202 `{}` once the cancellation is under way, 404 for an
/// unknown job, 409 for one that cannot be cancelled (it has ended).
async fn cancel_job(
    State(backend): State<Backend>,
    Path(id): Path<String>,
    params: Result<Query<CancelParams>, QueryRejection>,
) -> Response {
    let mode = match params {
        Ok(Query(params)) => params.mode,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    if let Some(mode) = mode.filter(|mode| mode != "cancel") {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unsupported termination mode {mode:?}"),
        );
    }
    if backend.job(&id).is_none() {
        return job_not_found(&id);
    }
    match backend.cancel(&id) {
        Ok(()) => {
            tracing::info!(job = %id, "job cancellation requested over rest");
            (StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response()
        }
        Err(message) => error(StatusCode::CONFLICT, message),
    }
}

/// `GET /jobs/{id}/checkpoints`: counts and the latest completed checkpoint.
async fn job_checkpoints(State(backend): State<Backend>, Path(id): Path<String>) -> Response {
    if backend.job(&id).is_none() {
        return job_not_found(&id);
    }
    match backend.checkpoints(&id) {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("job {id} takes no checkpoints")),
    }
}

#[derive(Debug, Default, Deserialize)]
struct SavepointParams {
    #[serde(rename = "target-directory", alias = "targetDirectory")]
    target_directory: Option<String>,
    #[serde(rename = "cancel-job", default)]
    cancel_job: bool,
}

/// `POST /jobs/{id}/savepoints` (`target-directory`, `cancel-job` as query parameters or a JSON
/// body): waits for the savepoint and answers `{"status":{"id":"COMPLETED"},"operation":
/// {"location": PATH}}`, or an error.
async fn trigger_savepoint(
    State(backend): State<Backend>,
    Path(id): Path<String>,
    params: Result<Query<SavepointParams>, QueryRejection>,
    body: String,
) -> Response {
    savepoint(backend, id, params, body, false).await
}

/// `POST /jobs/{id}/stop` (`targetDirectory`): a savepoint, then the job ends.
async fn stop_with_savepoint(
    State(backend): State<Backend>,
    Path(id): Path<String>,
    params: Result<Query<SavepointParams>, QueryRejection>,
    body: String,
) -> Response {
    savepoint(backend, id, params, body, true).await
}

async fn savepoint(
    backend: Backend,
    id: String,
    params: Result<Query<SavepointParams>, QueryRejection>,
    body: String,
    stop: bool,
) -> Response {
    let mut p = match params {
        Ok(Query(p)) => p,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    if !body.trim().is_empty() {
        match serde_json::from_str::<SavepointParams>(&body) {
            Ok(b) => {
                p.target_directory = p.target_directory.or(b.target_directory);
                p.cancel_job |= b.cancel_job;
            }
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed request body: {e}")),
        }
    }
    if backend.job(&id).is_none() {
        return job_not_found(&id);
    }
    let rx = match backend.savepoint(&id, p.target_directory, stop || p.cancel_job) {
        Ok(rx) => rx,
        Err(message) => return error(StatusCode::CONFLICT, message),
    };
    match tokio::time::timeout(std::time::Duration::from_secs(600), rx).await {
        Ok(Ok(Ok(location))) => Json(serde_json::json!({
            "status": {"id": "COMPLETED"},
            "operation": {"location": location},
        }))
        .into_response(),
        Ok(Ok(Err(message))) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
        Ok(Err(_)) => error(
            StatusCode::CONFLICT,
            "the job ended before the savepoint completed",
        ),
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "the savepoint did not complete within 10 minutes",
        ),
    }
}

async fn taskmanagers(State(backend): State<Backend>) -> Response {
    Json(TaskManagersInfo {
        taskmanagers: backend.taskmanagers(),
    })
    .into_response()
}

async fn config(State(backend): State<Backend>) -> Response {
    let entries: Vec<ConfigEntry> = backend
        .config()
        .into_iter()
        .map(|(key, value)| ConfigEntry { key, value })
        .collect();
    Json(entries).into_response()
}

async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    error(StatusCode::NOT_FOUND, format!("not found: {}", uri.path()))
}

async fn method_not_allowed(OriginalUri(uri): OriginalUri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed on {}", uri.path()),
    )
}
