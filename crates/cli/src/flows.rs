//! Flow logs on disk, and `vpclab flows`.
//!
//! Every flow log writes to `<state dir>/flow-logs/<fl-id>.log`, one record per line in
//! AWS's default version-2 format, whatever destination its CreateFlowLogs named (an S3
//! bucket ARN, a CloudWatch Logs group): the destination is reported by
//! DescribeFlowLogs, the records are in the file.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vpclab_api::Service;
use vpclab_dataplane::flowlog::FlowRecord;

use crate::lab::{self, Result};

/// The directory of the flow-log files.
pub(crate) fn dir(state: &Path) -> PathBuf {
    state.join("flow-logs")
}

/// Appends the lines of `records` to their flow logs' files; how many lines.
pub(crate) fn write(service: &Mutex<Service>, state: &Path, records: &[FlowRecord]) -> usize {
    let lines = service.lock().unwrap_or_else(|e| e.into_inner()).flow_log_lines(records);
    if lines.is_empty() {
        return 0;
    }
    let dir = dir(state);
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!("vpclab serve: flow logs: {}: {e}", dir.display());
        return 0;
    }
    let mut written = 0;
    for (id, line) in &lines {
        let path = dir.join(format!("{id}.log"));
        let appended = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        match appended {
            Ok(()) => written += 1,
            Err(e) => eprintln!("vpclab serve: flow logs: {}: {e}", path.display()),
        }
    }
    written
}

/// The daemon's writer: records the forwarder hands over at the end of each
/// aggregation interval go to their files.
pub(crate) fn spawn_writer(
    service: Arc<Mutex<Service>>,
    state: PathBuf,
    records: std::sync::mpsc::Receiver<Vec<FlowRecord>>,
) -> Result<()> {
    std::thread::Builder::new()
        .name("vpclab-flow-logs".into())
        .spawn(move || {
            for batch in records {
                write(&service, &state, &batch);
            }
        })
        .map(|_| ())
        .map_err(|e| format!("flow-log thread: {e}"))
}

/// `vpclab flows`: flushes what the forwarder counted so far, then prints every record
/// (`--follow`: and then new ones, each second, until interrupted).
pub(crate) fn run(state: &Path, follow: bool) -> Result<ExitCode> {
    lab::ask(state, "flush-flows").map_err(|e| format!("no lab daemon is running ({e})"))?;
    let mut seen: Vec<(PathBuf, usize)> = Vec::new();
    loop {
        print_new(&dir(state), &mut seen)?;
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(1));
        lab::ask(state, "flush-flows").map_err(|e| format!("the lab daemon stopped ({e})"))?;
    }
}

/// Prints the lines of every file in `dir` beyond those already printed, prefixed with
/// the flow log's id.
fn print_new(dir: &Path, seen: &mut Vec<(PathBuf, usize)>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for path in files {
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let id = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let done = match seen.iter_mut().find(|(p, _)| p == &path) {
            Some((_, n)) => n,
            None => {
                seen.push((path.clone(), 0));
                &mut seen.last_mut().expect("just pushed").1
            }
        };
        for line in text.lines().skip(*done) {
            println!("{id} {line}");
            *done += 1;
        }
    }
    Ok(())
}
