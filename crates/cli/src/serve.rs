//! `vpclab serve`: the EC2 Query API over HTTP, with the data plane in the same process.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use vpclab_api::{Service, Store, server};
use vpclab_dataplane::host::Host;
use vpclab_model::Model;

use crate::lab;

/// Serves until SIGINT or SIGTERM. With `dataplane`, every change is made real
/// (namespaces, devices, forwarding); without, only the API and the store run (for
/// tests and for trying the API without root).
pub(crate) fn run(state: &Path, listen: SocketAddr, dataplane: bool) -> Result<(), String> {
    if dataplane {
        lab::require_root()?;
    }
    let (store, saved) = Store::open(state)?;
    let restored = saved.is_some();
    let model = saved.unwrap_or_else(|| Model::new(lab::seed()));
    let (host, internet) = if dataplane {
        let mut host = Host::start().map_err(|e| e.to_string())?;
        host.sync(&model).map_err(|e| e.to_string())?;
        (Some(host), Some(lab::start_internet_host()?))
    } else {
        (None, None)
    };
    let instances = model.instances().count();
    let service = Arc::new(Mutex::new(Service::new(model, Some(store), host, lab::seed())));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let served = runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("{listen}: {e}"))?;
        eprintln!(
            "vpclab serve: EC2 API on http://{listen}, state in {}{}, data plane {}",
            state.display(),
            if restored { format!(" (restored, {instances} instances)") } else { String::new() },
            if dataplane { "on" } else { "off" },
        );
        server::serve(listener, Arc::clone(&service), shutdown()).await.map_err(|e| e.to_string())
    });

    let host = service.lock().unwrap_or_else(|e| e.into_inner()).take_host();
    if let Some(host) = host {
        host.stop().map_err(|e| e.to_string())?;
    }
    if let Some(mut internet) = internet {
        let _ = internet.kill();
        let _ = internet.wait();
    }
    eprintln!("vpclab serve: stopped; instances and their processes stay up for the next start");
    served
}

async fn shutdown() {
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
