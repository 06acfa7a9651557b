//! `vpclab trace` and reality cannot disagree: for every probe over the two-tier lab,
//! the trace's verdict is what real packets do.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");
const T: Duration = Duration::from_secs(6);
const NEGATIVE: Duration = Duration::from_secs(3);

/// (from, to, port: None = ping, Some = TCP via curl)
const PROBES: &[(&str, &str, Option<u16>)] = &[
    ("app", "10.0.1.10", None),
    ("web", "10.0.2.4", None),
    ("worker", "10.0.1.10", None),
    ("web", "198.51.100.1", None),
    ("web", "198.51.100.1", Some(80)),
    ("worker", "198.51.100.1", None),
    ("app", "198.51.100.1", Some(80)),
    ("loner", "10.0.1.10", None),
];

#[test]
#[ignore = "needs root"]
fn trace_verdicts_match_real_probes() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let mut reachable = 0;
    for &(from, to, port) in PROBES {
        let mut args = vec!["trace", "--from", from, "--to", to, "--json"];
        let port_text = port.map(|p| p.to_string());
        if let Some(p) = &port_text {
            args.extend(["--port", p]);
        }
        let out = lab.vpclab(&args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("trace {from} -> {to}: {e}: {out:?}"));
        let traced = report["reachable"].as_bool().expect("a verdict");
        assert_eq!(out.status.success(), traced, "the exit code says the same");

        let real = match port {
            None => lab.pings(from, to, if traced { T } else { NEGATIVE }),
            Some(p) => {
                let url = format!("http://{to}:{p}/");
                lab.curl(from, &url, if traced { T } else { NEGATIVE }).is_some()
            }
        };
        assert_eq!(traced, real, "{from} -> {to} {port:?}: trace {report:#}");
        reachable += usize::from(real);
    }
    assert!(0 < reachable && reachable < PROBES.len(), "both outcomes are exercised");
    lab.down();
}
