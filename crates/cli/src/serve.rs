//! `vpclab serve`: the EC2 Query API over HTTP, with the data plane in the same process,
//! and the control socket `vpclab status`, `down` and `restart` talk to.
//!
//! `vpclab up` builds a topology into the same store and starts this in the background,
//! so a lab made from a file can be changed through the API and the other way round.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use vpclab_api::sigv4::Credentials;
use vpclab_api::{Service, Store, server};
use vpclab_dataplane::host::Host;
use vpclab_dataplane::worker::{Options as ForwarderOptions, PacketIo};
use vpclab_model::Model;

use crate::lab::{self, DaemonStatus};

/// Forwarder workers at most, unless asked for more.
const DEFAULT_WORKERS: usize = 4;

/// How `vpclab serve` runs.
#[derive(Debug)]
pub(crate) struct Options {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Every change made real (namespaces, devices, forwarding); without, only the API
    /// and the store run (for tests, and for trying the API without root).
    pub dataplane: bool,
    /// The file of accepted SigV4 keys; any credentials without one.
    pub credentials: Option<PathBuf>,
    /// Forwarder workers; one per CPU (at most 4) without.
    pub workers: Option<usize>,
    /// The workers' packet I/O.
    pub packet_io: PacketIo,
    /// How long an io_uring worker spins after its last packet before sleeping.
    pub busy_poll: Option<Duration>,
    /// Seconds new instances and NAT gateways are reported `pending`.
    pub pending_seconds: u64,
    /// Whether a fresh state gets a default VPC, as every AWS account has.
    pub default_vpc: bool,
}

/// Serves until SIGINT, SIGTERM or `stop` on the control socket.
pub(crate) fn run(state: &Path, options: Options) -> Result<(), String> {
    let Options {
        listen,
        dataplane,
        credentials,
        workers,
        packet_io,
        busy_poll,
        pending_seconds,
        default_vpc,
    } = options;
    let credentials = match credentials {
        Some(file) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            Some(Arc::new(
                Credentials::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?,
            ))
        }
        None => None,
    };
    // The emulated services' certificates, new for each start (before the internet
    // hosts that serve them).
    let certificates = if dataplane {
        lab::require_root()?;
        let certificates = crate::tls::issue()?;
        crate::tls::write(state, &certificates)?;
        Some(certificates)
    } else {
        None
    };
    let (mut store, saved) = Store::open(state)?;
    let restored = saved.is_some();
    let model = match saved {
        Some(model) => model,
        None => {
            // A fresh account: the default VPC with its subnets, gateway and route,
            // stored at once so that a restart finds the same one.
            let mut model = Model::new(lab::seed());
            if default_vpc {
                model.create_default_vpc().map_err(|e| format!("default VPC: {}", e.message))?;
            }
            store.save(&model).map_err(|e| format!("state: {e}"))?;
            model
        }
    };
    let (host, internet, flow_records) = if dataplane {
        let workers = workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| n.get()).min(DEFAULT_WORKERS)
        });
        // Every instance holds workers + 1 TUN fds: 10,000 of them need more than the
        // usual limit.
        if let Err(e) =
            vpclab_sys::process::raise_open_files(vpclab_sys::process::OPEN_FILES_WANTED)
        {
            eprintln!("vpclab serve: open-file limit not raised: {e}");
        }
        let options = ForwarderOptions { workers, io: packet_io, busy_poll };
        let mut host = Host::start_with(options, vpclab_dataplane::host::internet_netns())
            .map_err(|e| e.to_string())?;
        let spin =
            busy_poll.map_or(String::new(), |d| format!(", busy-polling {} µs", d.as_micros()));
        eprintln!(
            "vpclab: forwarder: {workers} worker{} on {}{spin}",
            if workers == 1 { "" } else { "s" },
            host.packet_io()
        );
        host.mark_owner(state).map_err(|e| e.to_string())?;
        host.sync(&model).map_err(|e| e.to_string())?;
        let records = host.flow_records();
        let tls = state.join(crate::tls::DIR);
        let internet = lab::start_internet_host(Some(&tls))?;
        (Some(host), Some(internet), Some(records))
    } else {
        (None, None, None)
    };
    let tunnel_daemons = host.as_ref().map(Host::tunnel_daemons);
    let instances = model.instances().count();
    let host_workers = host.as_ref().map(Host::workers);
    let mut service = Service::new(model, Some(store), host, lab::seed())
        .with_transition_seconds(pending_seconds);
    service.mirror_to(state.join(lab::MODEL_FILE)).map_err(|e| format!("model mirror: {e}"))?;
    let service = Arc::new(Mutex::new(service));
    if let Some(records) = flow_records {
        crate::flows::spawn_writer(Arc::clone(&service), state.to_path_buf(), records)?;
    }
    if let Some(daemons) = tunnel_daemons {
        spawn_tunnel_poller(daemons, Arc::clone(&service))?;
    }
    let stop = Arc::new(Notify::new());
    control_socket(state, Arc::clone(&service), Arc::clone(&stop), host_workers)?;

    // The API also answers as the public endpoints of EC2 and STS on the emulated
    // internet, HTTP on 80 and HTTPS on 443: listeners made inside its namespace stay
    // there.
    let tls = match &certificates {
        Some(c) => {
            let config = crate::tls::server_config(c.chain.as_bytes(), c.key.as_bytes())?;
            Some(tokio_rustls::TlsAcceptor::from(config))
        }
        None => None,
    };
    let public_listeners = if dataplane {
        let addresses: Vec<SocketAddr> = vpclab_model::INTERFACE_SERVICES
            .iter()
            .filter(|s| lab::API_SERVICES.contains(&s.short))
            .flat_map(|s| [SocketAddr::from((s.address, 80)), SocketAddr::from((s.address, 443))])
            .collect();
        vpclab_sys::netns::run_in(vpclab_dataplane::host::internet_netns(), move || {
            addresses.iter().map(std::net::TcpListener::bind).collect::<std::io::Result<Vec<_>>>()
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the API's public endpoints: {e}"))?
    } else {
        Vec::new()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let served = runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("{listen}: {e}"))?;
        eprintln!(
            "vpclab serve: EC2 API on http://{listen} (console: http://{listen}/console/), state in {}{}, data plane {}",
            state.display(),
            if restored { format!(" (restored, {instances} instances)") } else { String::new() },
            match &host_workers {
                Some(n) => format!("on ({n} forwarder worker{})", if *n == 1 { "" } else { "s" }),
                None => "off".to_owned(),
            },
        );
        for public in public_listeners {
            public.set_nonblocking(true).map_err(|e| format!("public endpoint: {e}"))?;
            let https =
                public.local_addr().map_err(|e| format!("public endpoint: {e}"))?.port() == 443;
            let listener = tokio::net::TcpListener::from_std(public)
                .map_err(|e| format!("public endpoint: {e}"))?;
            // Each ends with the runtime, when the main listener's server returns.
            match (&tls, https) {
                (Some(tls), true) => {
                    tokio::spawn(serve_https(
                        listener,
                        tls.clone(),
                        Arc::clone(&service),
                        credentials.clone(),
                    ));
                }
                _ => {
                    let never = std::future::pending::<()>();
                    let service = Arc::clone(&service);
                    let site = server::Site::api(service, credentials.clone());
                    tokio::spawn(server::serve(listener, site, never));
                }
            }
        }
        let shutdown = async move {
            tokio::select! {
                () = signals() => {}
                () = stop.notified() => {}
            }
        };
        // The console beside the API on the main listener (never on the emulated
        // internet's public endpoints).
        let console = crate::console::Console::new(
            Arc::clone(&service),
            credentials.clone(),
            state.to_path_buf(),
        );
        let site = server::Site { service: Arc::clone(&service), credentials, pages: Some(Arc::new(console)) };
        server::serve(listener, site, shutdown)
            .await
            .map_err(|e| e.to_string())
    });

    let host = {
        let mut service = service.lock().unwrap_or_else(|e| e.into_inner());
        // The mirror has the last change before the daemon is reported gone.
        service.flush_mirror();
        service.take_host()
    };
    if let Some(host) = host {
        host.stop().map_err(|e| e.to_string())?;
    }
    if let Some(mut internet) = internet {
        let _ = internet.kill();
        let _ = internet.wait();
    }
    let _ = std::fs::remove_file(state.join(lab::SOCKET_FILE));
    let _ = std::fs::remove_file(state.join(lab::PID_FILE));
    eprintln!("vpclab serve: stopped; instances and their processes stay up for the next start");
    served
}

/// The API over HTTPS on `listener`, for as long as the runtime runs. A handshake must
/// finish within [`HANDSHAKE_TIMEOUT`]; a failed one closes that connection only.
async fn serve_https(
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    service: Arc<Mutex<Service>>,
    credentials: Option<Arc<Credentials>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (tls, service, credentials) = (tls.clone(), Arc::clone(&service), credentials.clone());
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await;
            if let Ok(Ok(stream)) = handshake {
                server::serve_connection(stream, server::Site::api(service, credentials)).await;
            }
        });
    }
}

/// How long a client has to complete a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The control socket: one line in (`status`, `model`, `stop`, `capture …`,
/// `flush-flows`, `onprem-create <spec>`, `onprem-delete <name>`), one JSON line out.
fn control_socket(
    state: &Path,
    service: Arc<Mutex<Service>>,
    stop: Arc<Notify>,
    workers: Option<usize>,
) -> Result<(), String> {
    let socket = state.join(lab::SOCKET_FILE);
    let state_dir = state.to_path_buf();
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    std::fs::write(state.join(lab::PID_FILE), std::process::id().to_string())
        .map_err(|e| format!("pid file: {e}"))?;
    std::thread::Builder::new()
        .name("vpclab-control".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_err() {
                    continue;
                }
                let mut out = &stream;
                match line.trim() {
                    "status" => {
                        let (generation, counters) = service
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .status()
                            .unwrap_or_default();
                        let status = DaemonStatus {
                            pid: std::process::id(),
                            generation,
                            counters,
                            workers: workers.unwrap_or(0),
                        };
                        let _ =
                            writeln!(out, "{}", serde_json::to_string(&status).unwrap_or_default());
                    }
                    command if command.starts_with("capture ") => {
                        let mut words = command.split_whitespace().skip(1);
                        let point = words.next().unwrap_or_default().to_owned();
                        let count = words.next().and_then(|c| c.parse().ok()).unwrap_or(0);
                        let found =
                            service.lock().unwrap_or_else(|e| e.into_inner()).capture_point(&point);
                        match found {
                            Ok((capture, point)) => {
                                // Its own thread: a capture runs as long as its client.
                                let Ok(stream) = stream.try_clone() else { continue };
                                let _ = std::thread::Builder::new()
                                    .name("vpclab-capture".into())
                                    .spawn(move || {
                                        crate::capture::stream(&capture, point, stream, count)
                                    });
                            }
                            Err(e) => {
                                let _ = writeln!(out, "error: {e}");
                            }
                        }
                    }
                    command if command.starts_with("onprem-") => {
                        let mut service = service.lock().unwrap_or_else(|e| e.into_inner());
                        let answer = crate::onprem::answer(&mut service, command);
                        let unknown = || format!("{{\"error\":\"unknown command {command:?}\"}}");
                        let _ = writeln!(out, "{}", answer.unwrap_or_else(unknown));
                    }
                    "model" => {
                        // Serialized under the lock: the model as of the last call.
                        let json = serde_json::to_string(
                            service.lock().unwrap_or_else(|e| e.into_inner()).model(),
                        );
                        let _ = match json {
                            Ok(json) => writeln!(out, "{json}"),
                            Err(e) => writeln!(out, "{{\"error\":\"{e}\"}}"),
                        };
                    }
                    "flush-flows" => {
                        let records =
                            service.lock().unwrap_or_else(|e| e.into_inner()).flush_flows();
                        let written = crate::flows::write(&service, &state_dir, &records);
                        let _ = writeln!(out, "{{\"written\":{written}}}");
                    }
                    "stop" => {
                        let _ = writeln!(out, "{{\"stopping\":true}}");
                        stop.notify_one();
                    }
                    other => {
                        let _ = writeln!(out, "{{\"error\":\"unknown command {other:?}\"}}");
                    }
                }
            }
        })
        .map_err(|e| format!("control thread: {e}"))?;
    Ok(())
}

/// How often the VPN tunnels' daemons are asked how they are.
const TUNNEL_POLL: Duration = Duration::from_secs(1);

/// Asks the VPN tunnels' daemons how they are, once a second, for as long as the
/// daemon runs: their telemetry and the routes they learned go into the model. The
/// asking holds the daemons, not the service: the API answers meanwhile.
fn spawn_tunnel_poller(
    daemons: Arc<Mutex<vpclab_dataplane::tunnels::Daemons>>,
    service: Arc<Mutex<Service>>,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("vpclab-tunnels".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TUNNEL_POLL);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let reports = daemons.lock().unwrap_or_else(|e| e.into_inner()).poll();
                service.lock().unwrap_or_else(|e| e.into_inner()).record_tunnels(reports, now);
            }
        })
        .map(drop)
        .map_err(|e| format!("tunnel poller: {e}"))
}

async fn signals() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
