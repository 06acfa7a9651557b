//! `vpclab`: AWS VPC in a box.

#![forbid(unsafe_code)]

mod capture;
mod check;
mod console;
mod flows;
mod graph;
mod internet;
mod lab;
mod onprem;
mod serve;
mod tls;
mod topology;
mod trace;
mod vpn;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vpclab_dataplane::worker::PacketIo;

/// AWS VPC in a box: real packets between namespaces, by AWS's rules.
#[derive(Debug, Parser)]
#[command(name = "vpclab", version, about, propagate_version = true)]
struct Cli {
    /// Where the lab's state lives.
    #[arg(long, global = true, env = "VPCLAB_STATE_DIR", default_value_os_t = lab::default_state_dir())]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Validate a topology file and bring the lab up (namespaces, devices, forwarder);
    /// without one, an empty lab to build through the EC2 API.
    Up {
        /// The topology (YAML); see examples/two-tier.yaml. Omit it for an empty lab.
        topology: Option<PathBuf>,
        /// Where the lab's EC2 API listens.
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
    },
    /// Stop the forwarder and remove every namespace and device of the lab.
    Down,
    /// Remove namespaces that labs made and no longer have (their state directory gone
    /// or changed); namespaces vpclab did not make are never touched.
    Gc {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Only the namespaces marked as this state directory's (every lab's otherwise).
        #[arg(long, value_name = "STATE_DIR")]
        lab: Option<PathBuf>,
    },
    /// Restart the forwarder; instances and the processes in them carry on.
    Restart,
    /// Show the lab's instances and the forwarder's counters.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside an instance (by Name tag or instance id), an on-premises
    /// site's host (SITE/HOST) or router (SITE/router, or SITE), or the emulated
    /// internet (`internet`).
    Exec {
        /// The instance, SITE/HOST, SITE/router or SITE, or `internet`: the emulated
        /// internet's hosts (as the internet sees the lab).
        instance: String,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// On-premises sites of the running lab: a router on the emulated internet and hosts
    /// on the site's own CIDRs (see docs/onprem.md).
    Onprem {
        #[command(subcommand)]
        command: OnpremCommand,
    },
    /// The lab's Site-to-Site VPN tunnels: their state, and faults to practise failover.
    Vpn {
        #[command(subcommand)]
        command: VpnCommand,
    },
    /// Serve the EC2 API (the aws CLI and boto3 work against it), data plane included.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
        /// Run the API and its store only: no namespaces, no packets (no root needed).
        #[arg(long)]
        no_dataplane: bool,
        /// Accept only requests signed (SigV4) with a key from this file, one
        /// `access_key_id:secret_access_key` per line. Default: any credentials.
        #[arg(long)]
        credentials: Option<PathBuf>,
        /// Forwarder worker threads, each with its own queue of every device. Default:
        /// one per CPU, at most 4. (`vpclab up` passes the variable on to its daemon.)
        #[arg(long, env = "VPCLAB_WORKERS", value_parser = clap::value_parser!(u16).range(1..=64))]
        workers: Option<u16>,
        /// How the forwarder's workers move packets: `io_uring` (many packets per system
        /// call, Linux 6.7 and later), `epoll` (one read and one write per packet), or
        /// `auto`, io_uring where the kernel has it.
        #[arg(long, env = "VPCLAB_PACKET_IO", default_value = "auto", value_parser = parse_packet_io)]
        packet_io: PacketIo,
        /// Lower latency for CPU: after its last packet a worker spins this many
        /// microseconds (200 if no value is given) before it sleeps, so that a packet
        /// arriving within that time finds it awake instead of waking it (on a virtual
        /// machine a wake-up across CPUs costs tens of µs). Costs up to a core per
        /// worker while packets come closer together than that; nothing when idle.
        /// Needs io_uring. Off by default.
        #[arg(long, env = "VPCLAB_BUSY_POLL", num_args = 0..=1, default_missing_value = "200",
              value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        busy_poll: Option<u64>,
        /// Report new instances and NAT gateways `pending` (deleted NAT gateways
        /// `deleting`) for this many seconds before they settle, as AWS does, so that
        /// clients' waiters poll more than once. Packets flow at once either way.
        #[arg(long, env = "VPCLAB_PENDING_SECONDS", default_value_t = 0,
              value_parser = clap::value_parser!(u64).range(0..=3600))]
        pending_seconds: u64,
        /// Start a fresh state without the default VPC every AWS account has (for labs
        /// that want an empty region). A state that exists keeps what it holds.
        #[arg(long)]
        no_default_vpc: bool,
    },
    /// Test declared reachability with real packets: a pass/fail table, and the trace
    /// of every path that did not behave as expected. Exits 1 if any did not.
    Check {
        /// The expectations (YAML): `expect: [{from, to, port?, reachable, seen_as?}]`.
        expectations: PathBuf,
        /// Machine-readable output: every result, and the trace of each failure.
        #[arg(long)]
        json: bool,
    },
    /// Follow one packet through the lab's rules, hop by hop, and its answer back.
    ///
    /// Runs the forwarder's own pipeline on a synthetic first packet of a flow and prints
    /// every decision: security groups, network ACL rule numbers, the route chosen,
    /// translations, where it dies and why (with Reachability Analyzer's codes). Exits 0
    /// when the packet and its answer both get through, 1 when not.
    Trace {
        /// Source: an instance (Name or id), an instance's address, or an internet host.
        #[arg(long)]
        from: String,
        /// Destination: an instance (its private address, or its public one when the
        /// source is on the internet) or an address.
        #[arg(long)]
        to: String,
        /// tcp, udp or icmp (default: tcp with --port, icmp without).
        #[arg(long)]
        proto: Option<String>,
        /// Destination port (tcp default 80, udp 53).
        #[arg(long)]
        port: Option<u16>,
        /// Over IPv6: instances named by Name or id are traced by their (first) IPv6
        /// address. An IPv6 address at either end implies it.
        #[arg(short = '6', long)]
        ipv6: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Capture the packets at one point of the forwarder, as pcap.
    ///
    /// At an instance (Name, id or ENI id): what it sends and receives, with its
    /// private address. At `igw`: the internet edge, both sides of the translation. At a
    /// NAT gateway (id or Name): its flows only, both sides. At a peering connection
    /// (id or Name): what crosses it. Without -w, one line per packet.
    Capture {
        /// An instance, its ENI, `igw`, a NAT gateway, or a peering connection.
        point: String,
        /// Write pcap here (`-`: standard output, for `| tcpdump -nr -`).
        #[arg(short = 'w', long = "write")]
        write: Option<PathBuf>,
        /// Stop after this many packets (default: until interrupted).
        #[arg(short = 'c', long)]
        count: Option<u64>,
    },
    /// Print the lab's flow-log records (AWS's version-2 format), after writing out
    /// what the forwarder has counted so far.
    Flows {
        /// Keep printing new records, each second, until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// Draw the lab: internet, gateways, VPCs, subnets, instances, route tables,
    /// peerings, endpoints, transit gateways and on-premises sites, as SVG (through
    /// Graphviz), DOT or Mermaid.
    Graph {
        /// Where to write it (`-`: standard output, the default). The format follows
        /// the extension (.svg, .dot, .mmd) unless --format says otherwise.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// svg, dot or mermaid.
        #[arg(long)]
        format: Option<String>,
        /// Draw this topology file instead of the running lab.
        #[arg(long)]
        topology: Option<PathBuf>,
    },
    /// Check a topology file without bringing anything up.
    Validate {
        /// The topology (YAML).
        topology: PathBuf,
    },
    /// The emulated internet's check-ip server (internal; runs in vpclab-internet).
    #[command(hide = true)]
    InternetHost {
        /// Addresses to listen on (repeat for several hosts).
        #[arg(long, default_values = ["198.51.100.1:80"])]
        listen: Vec<SocketAddr>,
        /// HTTPS on port 443 of every address listened on, with the certificate and
        /// key in this directory (`vpclab serve` makes them).
        #[arg(long)]
        tls: Option<PathBuf>,
        /// The daemon that started it: it ends when that process does, however it ends.
        #[arg(long)]
        parent: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum OnpremCommand {
    /// Create a site: its router (namespace vpclab-onprem-NAME) with a public address on
    /// the emulated internet, and a namespace per host (vpclab-onprem-NAME-HOST).
    Create {
        /// The site's name: lowercase letters, digits and hyphens, at most 20.
        name: String,
        /// A CIDR of the site (repeat for more; /8 to /28, may overlap a VPC's).
        #[arg(long = "cidr", value_name = "CIDR")]
        cidrs: Vec<String>,
        /// The router's public address, 198.51.100.2 to .127 (default: the lowest free
        /// from .10).
        #[arg(long)]
        public_ip: Option<String>,
        /// The router's BGP ASN (default 65000).
        #[arg(long)]
        asn: Option<u64>,
        /// A host, with its address or the next free from .10 of the first CIDR (repeat
        /// for more).
        #[arg(long = "host", value_name = "NAME[=IP]")]
        hosts: Vec<String>,
    },
    /// Delete a site and its namespaces.
    Delete {
        /// The site's name.
        name: String,
    },
    /// List the sites.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum VpnCommand {
    /// Each VPN connection's tunnels: UP or DOWN (as VgwTelemetry), and the routes
    /// learned over them.
    Status,
    /// Drop a tunnel's outside traffic (IKE, ESP, and the BGP inside) in the emulated
    /// internet, as a broken path would; traffic fails over to the other tunnel.
    Cut {
        /// The VPN connection (vpn-…).
        connection: String,
        /// The tunnel: 1 or 2.
        tunnel: u8,
    },
    /// Let a cut tunnel's traffic through again.
    Restore {
        /// The VPN connection (vpn-…).
        connection: String,
        /// The tunnel: 1 or 2.
        tunnel: u8,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Up { topology, listen } => {
            lab::up(topology.as_deref(), &cli.state_dir, listen).map(|()| ExitCode::SUCCESS)
        }
        Commands::Check { expectations, json } => check::run(&cli.state_dir, &expectations, json),
        Commands::Trace { from, to, proto, port, ipv6, json } => {
            trace::run(&cli.state_dir, &from, &to, proto.as_deref(), port, ipv6, json)
        }
        Commands::Capture { point, write, count } => {
            capture::run(&cli.state_dir, &point, write.as_deref(), count)
        }
        Commands::Flows { follow } => flows::run(&cli.state_dir, follow),
        Commands::Graph { output, format, topology } => {
            draw(&cli.state_dir, output.as_deref(), format.as_deref(), topology.as_deref())
                .map(|()| ExitCode::SUCCESS)
        }
        Commands::Down => lab::down(&cli.state_dir).map(|()| ExitCode::SUCCESS),
        Commands::Gc { dry_run, lab } => {
            lab::gc(dry_run, lab.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Commands::Restart => lab::restart(&cli.state_dir).map(|()| ExitCode::SUCCESS),
        Commands::Status { json } => lab::status(&cli.state_dir, json),
        Commands::Exec { instance, command } => {
            lab::exec(&cli.state_dir, &instance, &command).map(|()| ExitCode::SUCCESS)
        }
        Commands::Validate { topology } => validate(&topology),
        Commands::Vpn { command } => match command {
            VpnCommand::Status => vpn::status(&cli.state_dir),
            VpnCommand::Cut { connection, tunnel } => {
                vpn::fault(&cli.state_dir, &connection, tunnel, true)
            }
            VpnCommand::Restore { connection, tunnel } => {
                vpn::fault(&cli.state_dir, &connection, tunnel, false)
            }
        }
        .map(|()| ExitCode::SUCCESS),
        Commands::Onprem { command } => {
            let state = &cli.state_dir;
            match command {
                OnpremCommand::Create { name, cidrs, public_ip, asn, hosts } => {
                    onprem::create(state, &name, &cidrs, public_ip.as_deref(), asn, &hosts)
                }
                OnpremCommand::Delete { name } => onprem::delete(state, &name),
                OnpremCommand::List { json } => onprem::list(state, json),
            }
            .map(|()| ExitCode::SUCCESS)
        }
        Commands::Serve {
            listen,
            no_dataplane,
            credentials,
            workers,
            packet_io,
            busy_poll,
            pending_seconds,
            no_default_vpc,
        } => {
            let options = serve::Options {
                listen,
                dataplane: !no_dataplane,
                credentials,
                workers: workers.map(usize::from),
                packet_io,
                busy_poll: busy_poll.map(std::time::Duration::from_micros),
                pending_seconds,
                default_vpc: !no_default_vpc,
            };
            serve::run(&cli.state_dir, options).map(|()| ExitCode::SUCCESS)
        }
        Commands::InternetHost { listen, tls, parent } => {
            internet::serve(&listen, tls.as_deref(), parent).map(|()| ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|message| {
        eprintln!("vpclab: {message}");
        ExitCode::FAILURE
    })
}

fn validate(file: &std::path::Path) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let model = topology::parse(&text)
        .and_then(|t| topology::build(&t, 0))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    println!(
        "{}: valid ({} VPCs, {} subnets, {} instances, {} on-premises sites)",
        file.display(),
        model.vpcs().count(),
        model.subnets().count(),
        model.instances().count(),
        model.onprem_sites().count()
    );
    Ok(ExitCode::SUCCESS)
}

/// `vpclab graph`.
fn draw(
    state: &std::path::Path,
    output: Option<&std::path::Path>,
    format: Option<&str>,
    topology_file: Option<&std::path::Path>,
) -> Result<(), String> {
    let model = match topology_file {
        Some(file) => {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            topology::parse(&text)
                .and_then(|t| topology::build(&t, 0))
                .map_err(|e| format!("{}: {e}", file.display()))?
        }
        None => {
            lab::current_model(state)?.ok_or("no lab is up (or draw a file: --topology FILE)")?
        }
    };
    let to_stdout = output.is_none_or(|o| o.as_os_str() == "-");
    let format = match (format, output.and_then(|o| o.extension()).and_then(|e| e.to_str())) {
        (Some(f), _) => f,
        (None, Some("svg")) if !to_stdout => "svg",
        (None, Some("mmd" | "mermaid")) if !to_stdout => "mermaid",
        _ => "dot",
    };
    let bytes = graph::render(&model, format)?;
    match output.filter(|_| !to_stdout) {
        Some(path) => std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes).map_err(|e| format!("stdout: {e}"))
        }
    }
}

/// `--packet-io`'s values.
fn parse_packet_io(value: &str) -> Result<PacketIo, String> {
    match value {
        "auto" => Ok(PacketIo::Auto),
        "epoll" => Ok(PacketIo::Epoll),
        "io_uring" | "uring" => Ok(PacketIo::Uring),
        other => Err(format!("{other:?}: auto, io_uring or epoll")),
    }
}
