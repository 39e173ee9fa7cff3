//! Samples of a process from /proc: CPU time (utime + stime of all its threads, from
//! `/proc/PID/stat`), resident memory (`VmRSS` of `/proc/PID/status`), threads and open file
//! descriptors; and the kernel's UDP counters (`/proc/net/snmp`), whose receive-buffer errors
//! tell whether datagrams were dropped on loopback during a run.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

/// One look at a process.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcSample {
    /// When the sample was taken (not serialized).
    #[serde(skip)]
    pub at: Instant,
    /// utime + stime, in microseconds (clock-tick resolution, usually 10 ms).
    pub cpu_us: u64,
    /// The kernel's part of `cpu_us` (stime): system calls, the network stack, timers.
    pub system_us: u64,
    pub rss_kib: u64,
    pub threads: u64,
    pub fds: u64,
    /// Context switches of all its threads so far (voluntary + involuntary): each time a
    /// thread parks and is woken again counts.
    pub context_switches: u64,
}

fn clock_ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Reads `/proc/PID/stat`, `/proc/PID/status` and counts `/proc/PID/fd`.
pub fn sample(pid: u32) -> std::io::Result<ProcSample> {
    let at = Instant::now();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state(3) ppid(4) ... utime(14) stime(15) ... num_threads(20), so the
    // index in `fields` is the field number minus 3.
    let field = |n: usize| -> u64 {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .unwrap_or_default()
    };
    let ticks = field(14) + field(15);
    let system_ticks = field(15);
    let threads = field(20);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let fds = std::fs::read_dir(PathBuf::from(format!("/proc/{pid}/fd")))
        .map(|d| d.count() as u64)
        .unwrap_or_default();
    Ok(ProcSample {
        context_switches: context_switches(pid),
        at,
        cpu_us: ticks * 1_000_000 / clock_ticks_per_second(),
        system_us: system_ticks * 1_000_000 / clock_ticks_per_second(),
        rss_kib,
        threads,
        fds,
    })
}

/// Voluntary and involuntary context switches summed over a process's threads.
fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// CPU time (utime + stime, µs) of a process's threads, summed by thread name (`comm`), e.g.
/// the tokio workers, the blocking pool, sled's flusher.
pub fn threads_cpu(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    let hz = clock_ticks_per_second();
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat.get(open + 1..close).unwrap_or("?").to_owned();
        let fields: Vec<&str> = stat
            .get(close + 1..)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let field = |n: usize| -> u64 {
            fields
                .get(n - 3)
                .and_then(|f| f.parse().ok())
                .unwrap_or_default()
        };
        *out.entry(name).or_default() += (field(14) + field(15)) * 1_000_000 / hz;
    }
    out
}

/// The machine's UDP counters (all sockets): datagrams in, receive-buffer drops, all errors.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct UdpCounters {
    pub in_datagrams: u64,
    pub rcvbuf_errors: u64,
    pub in_errors: u64,
    pub sndbuf_errors: u64,
}

impl UdpCounters {
    /// Reads `/proc/net/snmp` (zeros when it cannot be read).
    pub fn read() -> UdpCounters {
        let Ok(text) = std::fs::read_to_string("/proc/net/snmp") else {
            return UdpCounters::default();
        };
        let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            return UdpCounters::default();
        };
        let get = |name: &str| -> u64 {
            names
                .split_whitespace()
                .position(|n| n == name)
                .and_then(|i| values.split_whitespace().nth(i))
                .and_then(|v| v.parse().ok())
                .unwrap_or_default()
        };
        UdpCounters {
            in_datagrams: get("InDatagrams"),
            rcvbuf_errors: get("RcvbufErrors"),
            in_errors: get("InErrors"),
            sndbuf_errors: get("SndbufErrors"),
        }
    }

    /// Counts since `earlier`.
    pub fn since(&self, earlier: &UdpCounters) -> UdpCounters {
        UdpCounters {
            in_datagrams: self.in_datagrams.saturating_sub(earlier.in_datagrams),
            rcvbuf_errors: self.rcvbuf_errors.saturating_sub(earlier.rcvbuf_errors),
            in_errors: self.in_errors.saturating_sub(earlier.in_errors),
            sndbuf_errors: self.sndbuf_errors.saturating_sub(earlier.sndbuf_errors),
        }
    }
}

/// The machine's load average over one minute (`/proc/loadavg`), for the report.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU cost over a window in which `call_seconds` call-seconds were live.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuWindow {
    pub window_s: f64,
    pub mean_active_calls: f64,
    pub cpu_s: f64,
    /// Cores busy on average (cpu seconds / window seconds).
    pub cores: f64,
    pub cpu_us_per_call_second: f64,
    /// The share of that CPU time spent in the kernel (stime / (utime + stime)).
    pub kernel_share: f64,
    /// Context switches of the process's threads per second of the window.
    pub context_switches_per_s: f64,
}

impl CpuWindow {
    pub fn new(start: &ProcSample, end: &ProcSample, call_seconds: f64) -> Option<CpuWindow> {
        let window_s = end.at.checked_duration_since(start.at)?.as_secs_f64();
        if window_s <= 0.0 || call_seconds <= 0.0 {
            return None;
        }
        let cpu_s = end.cpu_us.saturating_sub(start.cpu_us) as f64 / 1e6;
        let system_s = end.system_us.saturating_sub(start.system_us) as f64 / 1e6;
        Some(CpuWindow {
            window_s,
            mean_active_calls: call_seconds / window_s,
            cpu_s,
            cores: cpu_s / window_s,
            cpu_us_per_call_second: cpu_s * 1e6 / call_seconds,
            kernel_share: if cpu_s > 0.0 { system_s / cpu_s } else { 0.0 },
            context_switches_per_s: end.context_switches.saturating_sub(start.context_switches)
                as f64
                / window_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_kib > 0);
        assert!(s.threads >= 1);
        assert!(s.fds >= 1);
    }
}
