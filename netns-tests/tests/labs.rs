//! The lab pages in docs/labs/ cannot rot: every `sh` block of the seed lab's pages runs
//! here, in order, in one shell — as a learner following them would — and must
//! succeed; every topology (a `yaml` block with `vpcs:`) must pass `vpclab validate`.
//! The break-and-fix labs must fail as shipped and pass once the fix their page gives
//! is applied.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use vpclab_netns_tests::api::python_env;
use vpclab_netns_tests::lab::binary;
use vpclab_netns_tests::require_root;

/// The fenced blocks of a Markdown page: (info string, body).
fn blocks(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in page.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/labs")
}

/// The pages whose names start with two digits, in order.
fn pages(prefix: &str) -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(docs())
        .expect("docs/labs")
        .map(|e| e.expect("an entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".md") && name.starts_with(prefix)
        })
        .collect();
    pages.sort();
    pages
}

/// A scratch directory with `sudo`, `vpclab` and `aws` on its `bin/` (sudo as a shim
/// that keeps the environment: the tests run as root), a state directory for the lab,
/// and the lab taken down and everything removed on drop.
struct Workspace {
    dir: PathBuf,
}

impl Workspace {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("vpclab-test-labs-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).expect("workspace");
        let sudo = dir.join("bin/sudo");
        std::fs::write(&sudo, "#!/bin/sh\nexec \"$@\"\n").expect("sudo shim");
        std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // The pages use vpclab's default port, as a learner's lab does; the test's lab listens on
        // a port of its own, and its internet has its own namespace, so a user's running
        // lab is never touched. The shims put both in place under the pages' commands.
        let port = vpclab_netns_tests::free_port();
        let shim = |name: &str, body: String| {
            let path = dir.join("bin").join(name);
            std::fs::write(&path, body).expect("shim");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        shim(
            "vpclab",
            format!(
                "#!/bin/sh\nexport VPCLAB_INTERNET_NETNS={internet}\nif [ \"$1\" = up ]; then\n  \
                 shift\n  exec {binary} up --listen 127.0.0.1:{port} \"$@\"\nfi\nexec {binary} \"$@\"\n",
                internet = vpclab_netns_tests::internet(),
                binary = binary().display(),
            ),
        );
        shim(
            "aws",
            format!(
                "#!/bin/sh\nexport AWS_ENDPOINT_URL=http://127.0.0.1:{port}\nexec {aws} \"$@\"\n",
                aws = python_env().join("bin/aws").display(),
            ),
        );
        Workspace { dir }
    }

    /// Runs `script` with bash in the workspace (its `bin/` first on the `PATH`, the
    /// lab's state in it); panics with the output's end if it fails.
    fn run(&self, what: &str, script: &str, cwd: &Path) -> String {
        let path = format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("timeout")
            .args(["900", "bash", "-c", script])
            .current_dir(cwd)
            .env("PATH", path)
            .env("VPCLAB_STATE_DIR", self.dir.join("state"))
            .env("HOME", &self.dir)
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail = |s: &str| {
            s.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(
            out.status.success(),
            "{what} failed\n--- stdout (end) ---\n{}\n--- stderr (end) ---\n{}",
            tail(&stdout),
            tail(&stderr)
        );
        // Where the time went, block by block (shown with --nocapture).
        for marker in stdout.lines().filter(|l| l.starts_with(">>> ")) {
            println!("{what}: {marker}");
        }
        stdout
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = vpclab_netns_tests::vpclab_command()
            .arg("--state-dir")
            .arg(self.dir.join("state"))
            .arg("down")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The script of one page: its `sh` blocks, each announced; its topologies validated.
fn script_of(page: &Path, work: &Path) -> String {
    let name = page.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    let text = std::fs::read_to_string(page).expect("a page");
    let mut script = String::new();
    for (i, (info, body)) in blocks(&text).into_iter().enumerate() {
        match info.as_str() {
            "sh" => script
                .push_str(&format!("echo \">>> {name}, block {i} (at $SECONDS s)\"\n{body}\n")),
            "yaml" if body.contains("vpcs:") => {
                let file = work.join(format!("{name}-{i}.yaml"));
                std::fs::write(&file, &body).expect("topology file");
                script.push_str(&format!(
                    "echo \">>> {name}, topology {i} (at $SECONDS s)\"\nvpclab validate '{}'\n",
                    file.display()
                ));
            }
            _ => {}
        }
    }
    script
}

#[test]
#[ignore = "needs root"]
fn the_seed_lab_pages_run_as_written() {
    require_root();
    let work = Workspace::new("seed");
    let pages = pages("0");
    assert!(
        pages.len() >= 9,
        "the seed's seven parts, the transit gateway and the NAT instance: {pages:?}"
    );
    let mut script = String::from("set -euo pipefail\n");
    for page in &pages {
        script.push_str(&script_of(page, &work.dir));
    }
    let out = work.run("docs/labs", &script, &work.dir);
    for page in &pages {
        let name = page.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(out.contains(&format!(">>> {name}")), "{name} ran");
    }
}

/// The pages past the seed's walk-through that start labs of their own (`1x-…`): each
/// runs alone, where the repository's `docs/` is at hand (their topologies are files
/// under docs/labs/files),
/// and its topology block is the file it brings up.
#[test]
#[ignore = "needs root"]
fn the_pages_with_labs_of_their_own_run_as_written() {
    require_root();
    let pages = pages("1");
    assert!(!pages.is_empty(), "Part 10, the Site-to-Site VPN");
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for page in pages {
        let name = page.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let text = std::fs::read_to_string(&page).expect("a page");
        for (info, body) in blocks(&text) {
            let Some(file) = body.lines().next().and_then(|l| l.strip_prefix("# docs/labs/"))
            else {
                continue;
            };
            if info == "yaml" {
                let shipped = std::fs::read_to_string(docs().join(file)).expect("the file");
                assert_eq!(shipped, body, "{name}: the page shows docs/labs/{file} as it is");
            }
        }
        let work = Workspace::new(&name);
        // The page's paths are the repository's (`docs/labs/files/…`); what it writes
        // (a graph, say) goes into the workspace, which goes when the test ends.
        std::os::unix::fs::symlink(repository.join("docs"), work.dir.join("docs"))
            .expect("docs in the workspace");
        let script = format!("set -euo pipefail\n{}", script_of(&page, &work.dir));
        let out = work.run(&name, &script, &work.dir);
        assert!(out.contains(&format!(">>> {name}")), "{name} ran");
    }
}

#[test]
#[ignore = "needs root"]
fn each_break_and_fix_lab_fails_as_shipped_and_passes_once_fixed() {
    require_root();
    let labs = pages("fix-");
    assert_eq!(labs.len(), 6, "six break-and-fix labs: {labs:?}");
    for page in labs {
        let name = page.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let work = Workspace::new(&name);
        let text = std::fs::read_to_string(&page).expect("a page");
        let blocks = blocks(&text);
        // The page's `sh` blocks are the learner's: bring the broken lab up, check it.
        // The block marked `sh fix` is the solution, applied here after the check failed.
        let setup: String =
            blocks.iter().filter(|(i, _)| i == "sh").map(|(_, b)| b.as_str()).collect();
        let fix: String =
            blocks.iter().filter(|(i, _)| i == "sh fix").map(|(_, b)| b.as_str()).collect();
        assert!(!setup.is_empty() && !fix.is_empty(), "{name}: a lab and its fix");
        // As shipped, the last command (the check) fails; with the fix, the fix's own
        // check passes. Paths in the pages are relative to the repository.
        let script = format!(
            "set -uo pipefail\n{setup}\nstatus=$?\nif [ $status -eq 0 ]; then echo 'BROKEN LAB PASSED'; exit 1; fi\n\
             set -e\n{fix}\necho FIXED\n"
        );
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = work.run(&name, &script, &repository);
        assert!(out.contains("FIXED"), "{name}");
        assert!(out.contains("FAIL"), "{name}: the check failed before the fix:\n{out}");
    }
}
