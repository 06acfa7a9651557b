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
use hyper::{Request, Response};
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

/// What a listener serves: the API, with its credentials check, and pages beside it
/// under their own path (the console).
#[derive(Clone, Debug)]
pub struct Site {
    pub service: Arc<Mutex<Service>>,
    /// With these, only requests signed (SigV4) with one of them are answered.
    pub credentials: Option<Arc<Credentials>>,
    pub pages: Option<Arc<dyn Pages>>,
}

impl Site {
    /// The API alone.
    pub fn api(service: Arc<Mutex<Service>>, credentials: Option<Arc<Credentials>>) -> Self {
        Site { service, credentials, pages: None }
    }
}

/// Pages served beside the API under [`Pages::prefix`]: answered on a blocking thread
/// (they call the API themselves, through [`call`]).
pub trait Pages: Send + Sync + std::fmt::Debug + 'static {
    /// The path they live under, e.g. `/console` (and everything below it).
    fn prefix(&self) -> &'static str;
    /// The answer to one request.
    fn answer(&self, request: PageRequest) -> PageResponse;
}

/// A request for a page.
#[derive(Debug)]
pub struct PageRequest {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A page.
#[derive(Debug)]
pub struct PageResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Serves `site` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    site: Site,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(serve_connection(stream, site.clone()));
            }
            () = &mut shutdown => return Ok(()),
        }
    }
}

/// Serves `site` on one accepted connection until the client closes it: plain TCP, or
/// a stream the caller has wrapped (TLS).
pub async fn serve_connection<S>(stream: S, site: Site)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handler = service_fn(move |req| answer(site.clone(), req));
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

async fn answer(site: Site, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let query = req.uri().query().unwrap_or_default().to_owned();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let pages = site.pages.clone().filter(|p| {
        let prefix = p.prefix();
        path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
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
    if let Some(pages) = pages {
        let request = PageRequest { method, path, query, headers, body: body.to_vec() };
        let page = tokio::task::spawn_blocking(move || pages.answer(request)).await;
        return Ok(match page {
            Ok(page) => {
                let mut response = Response::builder().status(page.status);
                for (name, value) in &page.headers {
                    response = response.header(name.as_str(), value.as_str());
                }
                response.body(Full::new(Bytes::from(page.body))).unwrap_or_else(|_| {
                    let mut failed = Response::new(Full::new(Bytes::new()));
                    *failed.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                    failed
                })
            }
            Err(_) => Response::builder()
                .status(500)
                .body(Full::new(Bytes::from_static(b"internal error\n")))
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
        });
    }
    if cross_site(&headers) {
        // What a page elsewhere would make a browser send: never an SDK's request.
        let error = ApiError {
            code: "AccessDenied",
            message: "Requests from a web page of another site are refused.".into(),
        };
        return Ok(reply(Reply {
            status: 403,
            body: xml::error(&error, NO_REQUEST),
            request_id: NO_REQUEST.into(),
        }));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // The service runs ip(8) and blocking I/O: off the async threads, one call at a time.
    let answer = tokio::task::spawn_blocking(move || {
        let request = ApiRequest {
            method: &method,
            path: &path,
            query: &query,
            headers: &headers,
            body: &body,
        };
        call(&site.service, site.credentials.as_deref(), &request, now)
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

/// Whether a request comes from a web page of another site: the browser says so
/// (`Sec-Fetch-Site`), or shows it (an `Origin` that is not the `Host`). SDKs, the CLI
/// and scripts send neither; a browser on a page elsewhere (a link, an image, a form
/// aimed at `http://127.0.0.1:4566/`) does.
pub fn cross_site(headers: &[(String, String)]) -> bool {
    let header = |name: &str| {
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    };
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            origin_host != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

/// A request to the API as HTTP carries it.
#[derive(Debug)]
pub struct ApiRequest<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Answers one API request as the HTTP server does: the signature checked (with
/// `credentials`), then the service's answer to the parameters (the body's, or the
/// query's for a `GET` or an empty body). Blocking: the service runs ip(8).
pub fn call(
    service: &Mutex<Service>,
    credentials: Option<&Credentials>,
    request: &ApiRequest<'_>,
    now: u64,
) -> Reply {
    if let Some(credentials) = credentials {
        let signed = Signed {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: request.body,
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
            return Reply {
                status,
                body: xml::error(&error, NO_REQUEST),
                request_id: NO_REQUEST.into(),
            };
        }
    }
    let params = if request.method == "GET" || request.body.is_empty() {
        request.query.as_bytes()
    } else {
        request.body
    };
    let mut service = service.lock().unwrap_or_else(|e| e.into_inner());
    service.handle(params, now)
}

#[cfg(test)]
mod tests {
    use super::cross_site;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn browsers_on_other_sites_are_told_apart_from_clients() {
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:4566")])), "an SDK");
        assert!(cross_site(&headers(&[("Sec-Fetch-Site", "cross-site")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "none")])), "typed in the address bar");
        let origin = |o: &str| headers(&[("origin", o), ("host", "127.0.0.1:4566")]);
        assert!(cross_site(&origin("http://evil.example")));
        assert!(!cross_site(&origin("http://127.0.0.1:4566")));
    }
}
