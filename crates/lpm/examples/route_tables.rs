//! The seed lab's route tables, compiled and queried: what the data plane will ask for
//! every packet.
//!
//! `cargo run --release -p vpclab-lpm --example route_tables`

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use ipnet::Ipv4Net;
use vpclab_lpm::Lpm4;

/// A route table as the control plane holds it: routes with their targets.
struct RouteTable {
    name: &'static str,
    routes: Vec<(Ipv4Net, &'static str)>,
}

impl RouteTable {
    fn new(name: &'static str, routes: &[(&str, &'static str)]) -> Self {
        let routes = routes.iter().map(|&(cidr, target)| (cidr.parse().unwrap(), target)).collect();
        Self { name, routes }
    }

    /// The compiled form: values are indexes into `routes`.
    fn compile(&self) -> Lpm4 {
        Lpm4::from_routes(self.routes.iter().zip(0..).map(|(&(net, _), i)| (net, i)))
            .expect("a handful of routes")
    }
}

fn main() {
    // VPC A (10.1.0.0/16) of the seed lab: a public subnet routed to the internet gateway,
    // a private subnet routed to the NAT gateway, both peered with VPC B (10.2.0.0/16),
    // and the private one with a gateway endpoint for S3 (prefix list 192.0.2.0/25).
    let tables = [
        RouteTable::new(
            "public (rtb-public)",
            &[("10.1.0.0/16", "local"), ("10.2.0.0/16", "pcx-ab"), ("0.0.0.0/0", "igw-a")],
        ),
        RouteTable::new(
            "private (rtb-private)",
            &[
                ("10.1.0.0/16", "local"),
                ("10.2.0.0/16", "pcx-ab"),
                ("192.0.2.0/25", "vpce-s3"),
                ("0.0.0.0/0", "nat-a"),
            ],
        ),
        RouteTable::new("isolated (main, untouched)", &[("10.1.0.0/16", "local")]),
    ];
    let destinations: [(&str, Ipv4Addr); 5] = [
        ("instance in the other subnet", Ipv4Addr::new(10, 1, 2, 10)),
        ("instance in peered VPC B", Ipv4Addr::new(10, 2, 1, 10)),
        ("emulated S3", Ipv4Addr::new(192, 0, 2, 1)),
        ("check-ip on the internet", Ipv4Addr::new(198, 51, 100, 1)),
        ("a public IP in the VPC", Ipv4Addr::new(203, 0, 113, 5)),
    ];

    for table in &tables {
        let compiled = table.compile();
        println!(
            "\nroute table {} ({} routes, {} bytes compiled)",
            table.name,
            compiled.len(),
            compiled.memory_bytes()
        );
        for (what, addr) in destinations {
            let target = compiled
                .lookup(addr)
                .map(|i| {
                    let (net, target) = table.routes[i as usize];
                    format!("{target:<8} via {net}")
                })
                .unwrap_or_else(|| "no route: dropped (CANNOT_ROUTE)".to_owned());
            println!("  {addr:<15} {what:<30} -> {target}");
        }
    }

    // How long the data plane's question takes on such a table.
    let compiled = tables[1].compile();
    let addrs: Vec<Ipv4Addr> =
        (0..4096u32).map(|i| Ipv4Addr::from(i.wrapping_mul(0x9E37_79B9))).collect();
    let rounds = 2_000;
    let started = Instant::now();
    let mut sum = 0u32;
    for _ in 0..rounds {
        for &addr in &addrs {
            sum = sum.wrapping_add(compiled.lookup(black_box(addr)).unwrap_or(0));
        }
    }
    let elapsed = started.elapsed();
    black_box(sum);
    let lookups = rounds * addrs.len();
    println!(
        "\n{lookups} lookups in {elapsed:.2?}: {:.1} ns per lookup, {:.0} million lookups/s on one core",
        elapsed.as_nanos() as f64 / lookups as f64,
        lookups as f64 / elapsed.as_secs_f64() / 1e6
    );
}
