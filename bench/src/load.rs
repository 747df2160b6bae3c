//! The load: `wrk` (Debian's `wrk` package) with a fixed number of connections for a
//! fixed time, sending a scenario's requests in turn from a file its Lua script reads.
//! A client written here on reqwest capped out near 60,000 requests/s and so measured
//! itself; wrk drives the bare route faster than the servers can answer on this
//! machine, and the bench says when it does not (its CPU time near its wall time
//! times its threads).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The script: each thread sends the file's requests in turn from its own place,
/// and at the end the main thread prints one JSON line of what wrk counted.
const SCRIPT: &str = r#"
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end

local requests, n, i = {}, 0, 0
function init(args)
  local f = assert(io.open(args[1], "rb"))
  while true do
    local len = f:read("*l")
    if not len then break end
    n = n + 1
    requests[n] = f:read(tonumber(len))
  end
  f:close()
  -- Each thread starts at its own share of the file: a write scenario's requests
  -- (links not clicked before) are then each sent once, while the file lasts.
  i = math.floor((offset or 0) * n / tonumber(args[2]))
end

function request()
  i = i % n + 1
  return requests[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'bench-result {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

/// One request of a scenario.
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
    pub content_type: &'static str,
    pub bearer: Option<String>,
}

impl Request {
    /// A JSON POST.
    pub fn json(path: &str, body: String, bearer: Option<&str>) -> Self {
        Self {
            method: "POST",
            path: path.to_owned(),
            body: Some(body),
            content_type: "application/json",
            bearer: bearer.map(str::to_owned),
        }
    }

    /// The request as it goes on the wire to `host`.
    fn raw(&self, host: &str) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", self.method, self.path);
        if let Some(bearer) = &self.bearer {
            head.push_str(&format!("Authorization: Bearer {bearer}\r\n"));
        }
        if let Some(body) = &self.body {
            head.push_str(&format!(
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                self.content_type,
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(self.body.as_deref().unwrap_or_default().as_bytes());
        raw
    }
}

/// How a scenario is loaded.
#[derive(Clone, Copy)]
pub struct Load {
    pub threads: usize,
    pub connections: usize,
    pub duration: Duration,
}

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub name: String,
    /// The client and its settings.
    pub client: String,
    pub connections: usize,
    pub requests: u64,
    /// Connection, read, write and timeout errors, and answers that were not 2xx/3xx.
    pub errors: u64,
    pub requests_per_second: f64,
    pub decisions_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Requests per second over the bare route's, in the same run.
    pub ratio: Option<f64>,
    /// The client's CPU time over its wall time times its threads: near 1, the client
    /// was the limit and the figure says more about it than about the server.
    pub client_cpu_share: f64,
    pub client_bound: bool,
    /// The server process's CPU time (user and system) a request, in microseconds.
    pub server_cpu_us_per_request: Option<f64>,
}

/// A client CPU share above which the figure is flagged as the client's.
const CLIENT_BOUND: f64 = 0.9;

#[derive(Deserialize)]
struct Counted {
    requests: u64,
    duration_us: u64,
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

/// Whether `wrk` is on the path.
pub fn check_wrk() -> Result<String, String> {
    let out = Command::new("wrk")
        .arg("--version")
        .output()
        .map_err(|e| format!("wrk is needed to drive the load (Debian: apt-get install wrk): {e}"))?;
    // wrk prints its version and usage, and exits with 1.
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.lines().next().unwrap_or("wrk").trim().to_owned())
}

/// Loads `base` (`http://host:port`) with `requests`, in turn, for `load.duration`;
/// `server` is the process answering, whose CPU time is counted.
pub fn run(
    name: &str,
    base: &str,
    server: Option<u32>,
    requests: &[Request],
    decisions_per_request: usize,
    load: Load,
    dir: &Path,
) -> Result<Measured, String> {
    let host = base.trim_start_matches("http://");
    let file = dir.join("requests");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(|e| e.to_string())?);
    for request in requests {
        let raw = request.raw(host);
        writeln!(out, "{}", raw.len()).map_err(|e| e.to_string())?;
        out.write_all(&raw).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    let script = dir.join("requests.lua");
    std::fs::write(&script, SCRIPT).map_err(|e| e.to_string())?;

    let threads = load.threads.min(load.connections).max(1);
    let seconds = load.duration.as_secs().max(1);
    let server_before = server.and_then(cpu_seconds);
    let client_before = children_cpu_seconds();
    let started = Instant::now();
    let output = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &load.connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(format!("{base}/"))
        .arg("--")
        .arg(&file)
        .arg(threads.to_string())
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let client_cpu = children_cpu_seconds() - client_before;
    let server_cpu = server.and_then(cpu_seconds).zip(server_before).map(|(after, before)| after - before);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("bench-result ")).ok_or_else(|| {
        format!("{name}: wrk printed no result: {stdout}{}", String::from_utf8_lossy(&output.stderr))
    })?;
    let counted: Counted = serde_json::from_str(line).map_err(|e| format!("{name}: {e}: {line}"))?;
    let rps = counted.requests as f64 / (counted.duration_us as f64 / 1e6);
    let client_cpu_share = client_cpu / (wall * threads as f64);
    let errors = counted.connect + counted.read + counted.write + counted.status + counted.timeout;
    Ok(Measured {
        name: name.to_owned(),
        client: format!("wrk -t{threads} -c{}", load.connections),
        connections: load.connections,
        requests: counted.requests,
        errors,
        requests_per_second: rps,
        decisions_per_second: rps * decisions_per_request as f64,
        p50_ms: counted.p50_us as f64 / 1000.0,
        p99_ms: counted.p99_us as f64 / 1000.0,
        max_ms: counted.max_us as f64 / 1000.0,
        ratio: None,
        client_cpu_share,
        client_bound: client_cpu_share >= CLIENT_BOUND,
        server_cpu_us_per_request: server_cpu.map(|s| s * 1e6 / counted.requests.max(1) as f64),
    })
}

/// The user and system CPU time of the waited-for children so far (wrk's, here: the
/// servers are waited for only at the end).
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// A running process's user and system CPU time, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's closing parenthesis; utime and stime are the
    // 14th and 15th of the line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
}
