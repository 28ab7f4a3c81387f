//! A TCP proxy between the agent and an engine that spoils one chosen HTTP exchange: an answer
//! held back, an answer cut off half-way by a reset, or a request swallowed. Everything else
//! passes through untouched, so the real engine behind it answers as it would.
//!
//! The fault is armed with a sequence of markers: each must appear, in order, in the requests
//! that pass (on any connection); the request matching the last marker is the one spoilt, once.
//! HTTP/1.1 clients here do not pipeline, so the bytes the engine sends after a request on that
//! connection are its answer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request reaches the engine; its answer is held this long, then the connection is
    /// closed without it (the answer is lost, as behind a proxy that timed out).
    HoldAnswer(Duration),
    /// The request reaches the engine; the client gets the first this many bytes of the answer,
    /// then a TCP reset.
    CutAnswer(usize),
    /// The request never reaches the engine; the connection is closed once the client gives up
    /// (or after a minute).
    SwallowRequest,
}

struct Armed {
    markers: Vec<String>,
    fault: Fault,
}

#[derive(Default)]
struct Shared {
    armed: Mutex<Option<Armed>>,
    fired: AtomicUsize,
    stop: AtomicBool,
    unreachable: AtomicBool,
    unavailable: AtomicUsize,
    answered_unavailable: AtomicUsize,
}

impl Shared {
    /// Called with each whole request: the fault this request gets, if it is the one.
    fn check(&self, request: &[u8]) -> Option<Fault> {
        let text = String::from_utf8_lossy(request);
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let a = armed.as_mut()?;
        if !text.contains(a.markers[0].as_str()) {
            return None;
        }
        a.markers.remove(0);
        if !a.markers.is_empty() {
            return None;
        }
        let fault = a.fault;
        *armed = None;
        self.fired.fetch_add(1, Ordering::SeqCst);
        Some(fault)
    }
}

pub struct FaultyProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultyProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> FaultyProxy {
        let upstream: SocketAddr = upstream.parse().expect("upstream host:port");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = Arc::clone(&accepting);
                std::thread::spawn(move || serve(client, upstream, &shared));
            }
        });
        FaultyProxy { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Spoils the request that matches the last of `markers`, after the others were seen in
    /// order (see the module's documentation).
    pub fn arm(&self, markers: &[&str], fault: Fault) {
        assert!(!markers.is_empty());
        *self.shared.armed.lock().unwrap() = Some(Armed {
            markers: markers.iter().map(|m| (*m).to_string()).collect(),
            fault,
        });
    }

    /// While set, every new connection is closed at once without reaching the engine (the
    /// engine is unreachable from the client's side; connections already open are untouched).
    pub fn set_unreachable(&self, unreachable: bool) {
        self.shared.unreachable.store(unreachable, Ordering::SeqCst);
    }

    /// The next `requests` requests, whatever they are, are answered `503 Service Unavailable` by
    /// the proxy and never reach the engine (a gateway in front of a busy coordinator).
    pub fn answer_unavailable(&self, requests: usize) {
        self.shared.unavailable.store(requests, Ordering::SeqCst);
    }

    /// How many requests were answered 503 so far.
    pub fn answered_unavailable(&self) -> usize {
        self.shared.answered_unavailable.load(Ordering::SeqCst)
    }

    /// How many faults were dealt so far.
    pub fn fired(&self) -> usize {
        self.shared.fired.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// What the engine-to-client direction is to do with the next answer.
#[derive(Default)]
struct Pending {
    fault: Option<Fault>,
}

fn serve(client: TcpStream, upstream: SocketAddr, shared: &Arc<Shared>) {
    if shared.unreachable.load(Ordering::SeqCst) {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(engine) = TcpStream::connect(upstream) else {
        return;
    };
    let pending = Arc::new(Mutex::new(Pending::default()));
    let (mut from_engine, mut to_client) = (
        engine.try_clone().expect("clone"),
        client.try_clone().expect("clone"),
    );
    let answers = Arc::clone(&pending);
    let back = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from_engine.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let fault = answers.lock().unwrap().fault.take();
            match fault {
                None => {
                    if to_client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Some(Fault::HoldAnswer(hold)) => {
                    std::thread::sleep(hold);
                    break;
                }
                Some(Fault::CutAnswer(bytes)) => {
                    let _ = to_client.write_all(&buf[..n.min(bytes)]);
                    reset(&to_client);
                    break;
                }
                Some(Fault::SwallowRequest) => unreachable!("handled on the way in"),
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
        let _ = from_engine.shutdown(Shutdown::Both);
    });

    let (mut from_client, mut to_engine) = (client, engine);
    let mut request = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    'read: loop {
        let n = match from_client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        request.extend_from_slice(&buf[..n]);
        while let Some(len) = whole_request(&request) {
            let this: Vec<u8> = request.drain(..len).collect();
            let unavailable = shared
                .unavailable
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if unavailable {
                shared.answered_unavailable.fetch_add(1, Ordering::SeqCst);
                let _ = from_client.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                break 'read;
            }
            match shared.check(&this) {
                Some(Fault::SwallowRequest) => {
                    // Never forwarded: wait for the client to give up, then close.
                    let _ = from_client.set_read_timeout(Some(Duration::from_secs(60)));
                    let started = Instant::now();
                    while started.elapsed() < Duration::from_secs(60) {
                        match from_client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    break 'read;
                }
                Some(fault) => pending.lock().unwrap().fault = Some(fault),
                None => {}
            }
            if to_engine.write_all(&this).is_err() {
                break 'read;
            }
        }
    }
    let _ = from_client.shutdown(Shutdown::Both);
    let _ = to_engine.shutdown(Shutdown::Both);
    let _ = back.join();
}

/// Closes with a TCP reset (SO_LINGER 0) rather than an orderly end of stream.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// The length of the first whole HTTP/1.1 request in `buf` (head and a `Content-Length` body).
fn whole_request(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let body: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= head_end + body).then_some(head_end + body)
}

#[cfg(test)]
mod tests {
    use super::whole_request;

    #[test]
    fn requests_are_split_by_their_length() {
        let two =
            b"POST /v1/statement HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET /x HTTP/1.1\r\n\r\n";
        assert_eq!(whole_request(two), Some(53));
        assert_eq!(whole_request(&two[53..]), Some(19));
        assert_eq!(whole_request(&two[..52]), None);
    }
}
