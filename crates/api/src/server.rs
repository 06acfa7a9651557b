//! HTTP for the Query API: tokio and hyper, HTTP/1.1, any path, `POST` with a
//! form-encoded body (or `GET` with the same in the query string).

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use vpclab_model::ApiError;

use crate::service::{Reply, Service};
use crate::sigv4::{Credentials, Refusal, Signed};
use crate::xml;

/// The request id of replies given before a request reaches the service.
const NO_REQUEST: &str = "00000000-0000-0000-0000-000000000000";

/// Largest request body accepted (the largest legitimate EC2 call is far smaller).
pub const MAX_BODY: usize = 1 << 20;

/// Serves `service` on `listener` until `shutdown` completes; with `credentials`, only
/// requests signed (SigV4) with one of them.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Mutex<Service>>,
    credentials: Option<Arc<Credentials>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let service = Arc::clone(&service);
                let credentials = credentials.clone();
                tokio::spawn(serve_connection(stream, service, credentials));
            }
            () = &mut shutdown => return Ok(()),
        }
    }
}

/// Serves `service` on one accepted connection until the client closes it: plain TCP,
/// or a stream the caller has wrapped (TLS).
pub async fn serve_connection<S>(
    stream: S,
    service: Arc<Mutex<Service>>,
    credentials: Option<Arc<Credentials>>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handler = service_fn(move |req| answer(Arc::clone(&service), credentials.clone(), req));
    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), handler).await;
}

fn reply(reply: Reply) -> Response<Full<Bytes>> {
    Response::builder()
        .status(reply.status)
        .header("Content-Type", "text/xml;charset=UTF-8")
        .header("x-amzn-RequestId", &reply.request_id)
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn answer(
    service: Arc<Mutex<Service>>,
    credentials: Option<Arc<Credentials>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let query = req.uri().query().unwrap_or_default().as_bytes().to_vec();
    let is_get = req.method() == Method::GET;
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = ApiError {
                code: "RequestEntityTooLarge",
                message: format!("Request body larger than {MAX_BODY} bytes."),
            };
            return Ok(reply(Reply {
                status: 413,
                body: xml::error(&error, NO_REQUEST),
                request_id: NO_REQUEST.into(),
            }));
        }
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if let Some(credentials) = &credentials {
        let signed = Signed {
            method: &method,
            path: &path,
            query: std::str::from_utf8(&query).unwrap_or_default(),
            headers: &headers,
            body: &body,
            now,
        };
        if let Err(refusal) = credentials.check(&signed) {
            let (status, error) = match refusal {
                Refusal::Expired => (
                    400,
                    ApiError { code: "RequestExpired", message: "Request has expired.".into() },
                ),
                Refusal::Missing | Refusal::UnknownKey | Refusal::Mismatch => (
                    401,
                    ApiError {
                        code: "AuthFailure",
                        message: "AWS was not able to validate the provided access credentials"
                            .into(),
                    },
                ),
            };
            return Ok(reply(Reply {
                status,
                body: xml::error(&error, NO_REQUEST),
                request_id: NO_REQUEST.into(),
            }));
        }
    }
    let params = if is_get || body.is_empty() { query } else { body.to_vec() };
    // The service runs ip(8) and blocking I/O: off the async threads, one call at a time.
    let answer = tokio::task::spawn_blocking(move || {
        let mut service = service.lock().unwrap_or_else(|e| e.into_inner());
        service.handle(&params, now)
    })
    .await;
    Ok(reply(answer.unwrap_or_else(|_| Reply {
        status: 500,
        body: xml::error(
            &ApiError { code: "InternalError", message: "An internal error has occurred".into() },
            NO_REQUEST,
        ),
        request_id: NO_REQUEST.into(),
    })))
}
