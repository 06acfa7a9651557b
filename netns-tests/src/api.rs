//! `vpclab serve` run for one test, and the real `aws` CLI (and boto3) pointed at it.
//!
//! `scripts/test.sh` installs awscli and boto3 from PyPI into `target/pyenv`;
//! `VPCLAB_PYTHON_ENV` points elsewhere.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{free_port, wait_until};

/// The Python environment holding `aws` and boto3.
pub fn python_env() -> PathBuf {
    std::env::var_os("VPCLAB_PYTHON_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv"))
}

/// Runs `aws ec2 <args>` against `endpoint` (any credentials).
pub fn aws(endpoint: &str, args: &[&str]) -> Output {
    Command::new(python_env().join("bin/aws"))
        .args(["--endpoint-url", endpoint, "--region", "us-east-1", "ec2"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "vpclab")
        .env("AWS_SECRET_ACCESS_KEY", "vpclab")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run aws (installed by scripts/test.sh into target/pyenv)")
}

/// A running `vpclab serve` with its own state directory and port.
#[derive(Debug)]
pub struct Api {
    child: Option<Child>,
    /// Its state directory.
    pub state: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    dataplane: bool,
    extra: Vec<String>,
}

impl Api {
    /// Starts `vpclab serve` on a fresh state directory.
    pub fn start(dataplane: bool) -> Self {
        Self::start_with(dataplane, &[])
    }

    /// [`Api::start`] with extra `vpclab serve` arguments.
    pub fn start_with(dataplane: bool, extra: &[&str]) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let state =
            std::env::temp_dir().join(format!("vpclab-test-api-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        let extra = extra.iter().map(|s| (*s).to_owned()).collect();
        let mut api = Api { child: None, state, endpoint: String::new(), dataplane, extra };
        api.restart();
        api
    }

    /// Starts (again) on the same state directory.
    pub fn restart(&mut self) {
        self.stop();
        let port = free_port();
        self.endpoint = format!("http://127.0.0.1:{port}");
        let mut command = crate::vpclab_command();
        command
            .arg("--state-dir")
            .arg(&self.state)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        if !self.dataplane {
            command.arg("--no-dataplane");
        }
        command.args(&self.extra);
        let child = command.stdin(Stdio::null()).spawn().expect("start vpclab serve");
        self.child = Some(child);
        wait_until(
            "vpclab serve to listen",
            Duration::from_secs(30),
            Duration::from_millis(50),
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ()),
        );
    }

    /// Kills it with SIGKILL — no chance to flush or clean up — and waits.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it with SIGTERM, as an operator would, and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let stopped = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(50));
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// Runs `aws ec2 <args>` against it (any credentials).
    pub fn aws(&self, args: &[&str]) -> Output {
        aws(&self.endpoint, args)
    }

    /// `aws ec2 <args> --output text --query <query>`, which must succeed; trimmed stdout.
    pub fn text(&self, args: &[&str], query: &str) -> String {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--output", "text", "--query", query]);
        let out = self.aws(&full);
        assert!(
            out.status.success(),
            "aws ec2 {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs `aws ec2 <args>`, which must succeed (for calls whose output says nothing).
    pub fn ok(&self, args: &[&str]) {
        let out = self.aws(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "aws ec2 {}: {stderr}", args.join(" "));
    }

    /// A VPC with `cidr` and an Amazon-provided IPv6 /56: its id and that block.
    pub fn dual_stack_vpc(&self, cidr: &str) -> (String, String) {
        let args = ["create-vpc", "--cidr-block", cidr, "--amazon-provided-ipv6-cidr-block"];
        let vpc = self.text(&args, "Vpc.VpcId");
        let block = self.text(
            &["describe-vpcs", "--vpc-ids", &vpc],
            "Vpcs[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock",
        );
        (vpc, block)
    }

    /// Runs `aws ec2 <args>`, which must fail with `code`.
    pub fn fails_with(&self, args: &[&str], code: &str) {
        let out = self.aws(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "aws ec2 {} should fail with {code}", args.join(" "));
        assert!(
            stderr.contains(&format!("({code})")),
            "aws ec2 {}: expected {code}, got: {stderr}",
            args.join(" ")
        );
    }

    /// Runs a boto3 program with `ENDPOINT` set in its environment; its stdout.
    pub fn boto3(&self, program: &str) -> String {
        let out = Command::new(python_env().join("bin/python"))
            .args(["-c", program])
            .env("ENDPOINT", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "vpclab")
            .env("AWS_SECRET_ACCESS_KEY", "vpclab")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .expect("run python with boto3");
        assert!(out.status.success(), "boto3: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop();
        if self.dataplane {
            // Everything the API made real: `vpclab down` on its state directory.
            let _ =
                crate::vpclab_command().arg("--state-dir").arg(&self.state).arg("down").output();
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
