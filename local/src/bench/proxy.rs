//! A recording proxy in front of the emulator: every AWS call a function makes passes through it, is forwarded
//! unchanged, and is recorded with its service, its operation and its time as the caller sees it. Calls are
//! counted from what really went over the wire, not estimated.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One AWS call, as it went to the emulator.
#[derive(Debug, Clone)]
pub struct Call {
    /// Whose proxy it came through (a function's logical id).
    pub caller: Arc<str>,
    /// The service of the request's signing scope: `dynamodb`, `sns`, `ses`, ...
    pub service: String,
    /// `GetItem`, `TransactWriteItems`, `Publish`, `SendEmail`, ...
    pub operation: String,
    /// The call's time as its caller sees it: from the request's first byte reaching the proxy to the answer's last
    /// byte leaving it. The proxy's own work is inside it, as it is no part of the function's.
    pub upstream: Duration,
}

/// What kind of call it is, for the budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallKind {
    Read,
    Query,
    Scan,
    Write,
    Transaction,
    Send,
    /// A KMS `Sign`: the signature of an access token.
    Sign,
    Other,
}

impl Call {
    pub fn kind(&self) -> CallKind {
        match (self.service.as_str(), self.operation.as_str()) {
            ("dynamodb", "GetItem" | "BatchGetItem" | "TransactGetItems") => CallKind::Read,
            ("dynamodb", "Query") => CallKind::Query,
            ("dynamodb", "Scan") => CallKind::Scan,
            ("dynamodb", "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem") => {
                CallKind::Write
            }
            ("dynamodb", "TransactWriteItems") => CallKind::Transaction,
            ("sns", "Publish" | "PublishBatch") | ("ses", "SendEmail") => CallKind::Send,
            ("kms", "Sign") => CallKind::Sign,
            _ => CallKind::Other,
        }
    }
}

/// Every call recorded so far, by every proxy sharing it.
#[derive(Clone, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    /// How many calls have been recorded: a mark to take the calls after it.
    pub fn mark(&self) -> usize {
        self.calls
            .lock()
            .map(|calls| calls.len())
            .unwrap_or_default()
    }

    pub fn since(&self, mark: usize) -> Vec<Call> {
        self.calls
            .lock()
            .map(|calls| calls.get(mark..).unwrap_or_default().to_vec())
            .unwrap_or_default()
    }

    fn record(&self, call: Call) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

/// The service from the SigV4 credential scope: `Credential=AKID/20261122/us-east-1/dynamodb/aws4_request`.
fn signing_service(authorization: &str) -> Option<&str> {
    let scope = authorization.split("Credential=").nth(1)?;
    scope.split(['/', ',']).nth(3)
}

/// The operation: the JSON protocols name it in `X-Amz-Target`, the query protocol (SNS) in `Action=`, and the REST
/// protocols (SES v2) by method and path.
fn operation(target: Option<&str>, body: &[u8], method: &str, path: &str) -> String {
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let action = std::str::from_utf8(body).ok().and_then(|body| {
        body.split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .map(str::to_owned)
    });
    match (action, method, path) {
        (Some(action), _, _) => action,
        (None, "POST", "/v2/email/outbound-emails") => "SendEmail".to_owned(),
        (None, method, path) => format!("{method} {path}"),
    }
}

/// One HTTP/1.1 message: its head (start line and headers, as sent) and its body.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
    /// The body ran to the end of the connection (no `Content-Length`).
    until_close: bool,
    /// When its first byte was read.
    arrived: Instant,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(&self.head)
            .ok()?
            .split("\r\n")
            .skip(1)
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then_some(value.trim())
            })
    }

    fn start_line(&self) -> &str {
        std::str::from_utf8(&self.head)
            .ok()
            .and_then(|head| head.split("\r\n").next())
            .unwrap_or_default()
    }

    /// The head without its `Connection` header, as HTTP/1.1 (whose connections persist by default).
    fn head_kept_alive(&self) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.head);
        let kept: Vec<&str> = text
            .split("\r\n")
            .filter(|line| {
                !line
                    .split(':')
                    .next()
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case("connection"))
            })
            .collect();
        kept.join("\r\n")
            .replacen("HTTP/1.0", "HTTP/1.1", 1)
            .into_bytes()
    }
}

/// Reads one message from `stream`; `None` when the peer closed before one began.
async fn read_message(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<Message>> {
    let mut arrived = Instant::now();
    let end_of_head = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 16 * 1024];
        let was_empty = buffer.is_empty();
        let read = stream.read(&mut chunk).await?;
        if was_empty {
            arrived = Instant::now();
        }
        if read == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head: Vec<u8> = buffer.drain(..end_of_head).collect();
    let mut message = Message {
        head,
        body: Vec::new(),
        until_close: false,
        arrived,
    };
    match message.header("content-length").map(str::parse::<usize>) {
        Some(Ok(length)) => {
            while buffer.len() < length {
                let mut chunk = [0u8; 16 * 1024];
                let read = stream.read(&mut chunk).await?;
                if read == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            message.body = buffer.drain(..length).collect();
        }
        Some(Err(_)) => return Err(std::io::ErrorKind::InvalidData.into()),
        // A request without a length has no body; a response without one runs to the end of the connection.
        None if message.start_line().starts_with("HTTP/") => {
            stream.read_to_end(buffer).await?;
            message.body = std::mem::take(buffer);
            message.until_close = true;
        }
        None => {}
    }
    Ok(Some(message))
}

/// Serves one client connection: each request over a fresh connection to the emulator (which closes its
/// connections after each answer, as a direct client would see), timed from its first byte in to the answer's last
/// byte out.
async fn serve(
    mut client: TcpStream,
    upstream: Arc<str>,
    caller: Arc<str>,
    recorder: Recorder,
) -> std::io::Result<()> {
    let mut from_client = Vec::new();
    while let Some(request) = read_message(&mut client, &mut from_client).await? {
        let header = |name| request.header(name);
        let mut words = request.start_line().split(' ');
        let method = words.next().unwrap_or_default().to_owned();
        let path = words
            .next()
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned();
        let service = header("authorization")
            .and_then(signing_service)
            .unwrap_or("unknown")
            .to_owned();
        let operation = operation(header("x-amz-target"), &request.body, &method, &path);

        let mut server = TcpStream::connect(&*upstream).await?;
        let _ = server.set_nodelay(true);
        server
            .write_all(&[request.head.as_slice(), &request.body].concat())
            .await?;
        let mut from_server = Vec::new();
        let response = read_message(&mut server, &mut from_server)
            .await?
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        // The emulator closes every connection; AWS keeps them open, and the SDK reuses them. So the function's
        // connection stays open unless the answer's end is the connection's end.
        client
            .write_all(&[response.head_kept_alive().as_slice(), &response.body].concat())
            .await?;
        recorder.record(Call {
            caller: caller.clone(),
            service,
            operation,
            upstream: request.arrived.elapsed(),
        });
        if response.until_close {
            break;
        }
    }
    Ok(())
}

/// Starts a proxy for `caller` in front of `upstream` (`http://host:port`); returns its endpoint.
pub async fn start(
    caller: &str,
    upstream: &str,
    recorder: &Recorder,
) -> Result<String, std::io::Error> {
    let upstream: Arc<str> =
        Arc::from(upstream.trim_start_matches("http://").trim_end_matches('/'));
    let caller: Arc<str> = Arc::from(caller);
    let recorder = recorder.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let _ = client.set_nodelay(true);
            tokio::spawn(serve(
                client,
                upstream.clone(),
                caller.clone(),
                recorder.clone(),
            ));
        }
    });
    Ok(format!("http://{address}"))
}
