//! A Lambda Runtime API stand-in hosting one real function binary: the process polls `next`, answers `response` or
//! `error`, and one invocation runs at a time, as in Lambda.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the function returned an error: {0}")]
    Function(String),
    #[error("the function did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the function is not running")]
    Gone,
    #[error("cannot start the function: {0}")]
    Start(String),
}

struct Invocation {
    id: String,
    event: Bytes,
    deadline_ms: u128,
}

type Answer = Result<Bytes, String>;

struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    function_arn: String,
}

/// One function: its Runtime API endpoint and its process.
pub struct FunctionHost {
    pub name: String,
    sender: mpsc::Sender<Invocation>,
    shared: Arc<Shared>,
    timeout: Duration,
    child: Child,
}

pub struct Launch<'a> {
    pub name: &'a str,
    pub binary: &'a FsPath,
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub logs: Logs,
}

/// Where a function's stdout and stderr (its JSON logs) go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logs {
    /// This process's stdout and stderr.
    Inherit,
    /// Appended to a file.
    File(PathBuf),
    /// This process's stderr, keeping its stdout for the function's answer.
    Stderr,
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let invocation = {
        let mut queue = shared.queue.lock().await;
        queue.recv().await
    };
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", invocation.id);
    set(
        "lambda-runtime-deadline-ms",
        invocation.deadline_ms.to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!("Root=1-{:08x}-local", epoch_ms() / 1000),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, invocation.event).into_response()
}

fn settle(shared: &Shared, id: &str, answer: Answer) -> StatusCode {
    let waiter = shared
        .waiting
        .lock()
        .ok()
        .and_then(|mut waiting| waiting.remove(id));
    match waiter {
        Some(waiter) => {
            let _ = waiter.send(answer);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn respond(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    settle(&shared, &id, Ok(body))
}

async fn fail(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    settle(
        &shared,
        &id,
        Err(String::from_utf8_lossy(&body).into_owned()),
    )
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    eprintln!(
        "{}: init error: {}",
        shared.function_arn,
        String::from_utf8_lossy(&body)
    );
    StatusCode::ACCEPTED
}

impl FunctionHost {
    pub async fn start(launch: Launch<'_>) -> Result<FunctionHost, InvokeError> {
        let (sender, receiver) = mpsc::channel(1024);
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                launch.name
            ),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| InvokeError::Start(e.to_string()))?;
        let address = listener
            .local_addr()
            .map_err(|e| InvokeError::Start(e.to_string()))?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });

        let mut command = Command::new(launch.binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", launch.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", launch.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("_HANDLER", "bootstrap")
            .envs(launch.environment)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match &launch.logs {
            Logs::Inherit => {}
            Logs::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| InvokeError::Start(format!("{}: {e}", path.display())))?;
                let copy = file
                    .try_clone()
                    .map_err(|e| InvokeError::Start(e.to_string()))?;
                command.stdout(copy).stderr(file);
            }
            Logs::Stderr => {
                command.stdout(std::io::stderr());
            }
        }
        let child = command
            .spawn()
            .map_err(|e| InvokeError::Start(format!("{}: {e}", launch.binary.display())))?;
        Ok(FunctionHost {
            name: launch.name.to_owned(),
            sender,
            shared,
            timeout: launch.timeout,
            child,
        })
    }

    /// The function's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Delivers one event and waits for the function's answer (its raw JSON).
    pub async fn invoke_raw(&self, event: Bytes) -> Result<Bytes, InvokeError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        if let Ok(mut waiting) = self.shared.waiting.lock() {
            waiting.insert(id.clone(), answer);
        }
        let invocation = Invocation {
            id: id.clone(),
            event,
            deadline_ms: epoch_ms() + self.timeout.as_millis(),
        };
        self.sender
            .send(invocation)
            .await
            .map_err(|_| InvokeError::Gone)?;
        // Queueing counts against the wait: a busy function delays the next caller, as a throttled one would.
        match tokio::time::timeout(self.timeout + Duration::from_secs(5), answered).await {
            Ok(Ok(Ok(body))) => Ok(body),
            Ok(Ok(Err(error))) => Err(InvokeError::Function(error)),
            Ok(Err(_)) => Err(InvokeError::Gone),
            Err(_) => {
                if let Ok(mut waiting) = self.shared.waiting.lock() {
                    waiting.remove(&id);
                }
                Err(InvokeError::Timeout(self.timeout))
            }
        }
    }

    pub async fn invoke(&self, event: &Value) -> Result<Value, InvokeError> {
        let body = serde_json::to_vec(event).map_err(|e| InvokeError::Start(e.to_string()))?;
        let answer = self.invoke_raw(Bytes::from(body)).await?;
        serde_json::from_slice(&answer).map_err(|e| InvokeError::Function(format!("not JSON: {e}")))
    }
}
