//! A TCP proxy between the server and PostgreSQL that a test can cut or freeze: the
//! faults a real network and a real database have, made on purpose.
//!
//! - `cut_after_next_commit`: forwards the database's answer to the next `COMMIT`,
//!   then closes every connection and refuses new ones for a while — the moment when
//!   a write is durable but the process can no longer read anything back.
//! - `freeze`: keeps every connection open and forwards nothing, as a database
//!   stopped with SIGSTOP does (its kernel still acknowledges every packet, so no TCP
//!   timeout fires).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// PostgreSQL's CommandComplete message for a COMMIT: 'C', length 11, "COMMIT\0".
const COMMIT_COMPLETE: &[u8] = b"C\x00\x00\x00\x0bCOMMIT\x00";

#[derive(Default)]
struct Shared {
    /// Until when new connections are refused (and none is forwarded).
    refuse_until: Mutex<Option<Instant>>,
    /// Set after a cut is asked for, cleared when it happens.
    armed: Mutex<Option<Duration>>,
    frozen: AtomicBool,
    stopped: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn refusing(&self) -> bool {
        self.refuse_until.lock().unwrap().is_some_and(|until| Instant::now() < until)
    }

    fn cut(&self, refuse_for: Duration) {
        *self.refuse_until.lock().unwrap() = Some(Instant::now() + refuse_for);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        std::thread::spawn(move || {
            while !accepting.stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if accepting.refusing() {
                            drop(client);
                            continue;
                        }
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(upstream) else { continue };
                        connect(&accepting, client, server);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { addr, shared }
    }

    /// `url` (a PostgreSQL URL) pointed at this proxy, without TLS so that the proxy
    /// can see the protocol.
    pub fn url(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("a PostgreSQL URL");
        parsed.set_host(Some(&self.addr.ip().to_string())).unwrap();
        parsed.set_port(Some(self.addr.port())).unwrap();
        parsed.query_pairs_mut().append_pair("sslmode", "disable");
        parsed.to_string()
    }

    /// Once the next COMMIT has been answered, cuts every connection and refuses new
    /// ones for `refuse_for`.
    pub fn cut_after_next_commit(&self, refuse_for: Duration) {
        *self.shared.armed.lock().unwrap() = Some(refuse_for);
    }

    /// Whether the armed cut has happened.
    pub fn has_cut(&self) -> bool {
        self.shared.armed.lock().unwrap().is_none()
    }

    pub fn freeze(&self) {
        self.shared.frozen.store(true, Ordering::SeqCst);
    }

    pub fn thaw(&self) {
        self.shared.frozen.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.thaw();
        self.shared.cut(Duration::ZERO);
    }
}

fn connect(shared: &Arc<Shared>, client: TcpStream, server: TcpStream) {
    {
        let mut open = shared.open.lock().unwrap();
        open.push(client.try_clone().unwrap());
        open.push(server.try_clone().unwrap());
    }
    let (up_from, up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let pumping = shared.clone();
    std::thread::spawn(move || pump(&pumping, up_from, up_to, false));
    let pumping = shared.clone();
    std::thread::spawn(move || pump(&pumping, server, client, true));
}

/// Copies `from` to `to`; on the database's side, watches for the COMMIT answer.
fn pump(shared: &Shared, mut from: TcpStream, mut to: TcpStream, from_database: bool) {
    let mut buffer = [0u8; 16 * 1024];
    // The end of the previous chunk, so that a COMMIT split across reads is seen.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while shared.frozen.load(Ordering::SeqCst) && !shared.stopped.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if from_database {
            tail.extend_from_slice(&buffer[..n]);
            let committed = tail.windows(COMMIT_COMPLETE.len()).any(|w| w == COMMIT_COMPLETE);
            let keep = tail.len().saturating_sub(COMMIT_COMPLETE.len());
            tail.drain(..keep);
            if committed {
                let armed = shared.armed.lock().unwrap().take();
                if let Some(refuse_for) = armed {
                    // Let the ReadyForQuery that follows in the same chunk arrive first.
                    let _ = to.flush();
                    shared.cut(refuse_for);
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
