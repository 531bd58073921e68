//! Local port forwarding through an SSH session (`ssh -L 127.0.0.1:0:host:port`).

use std::net::SocketAddr;

use nfops_core::{Error, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::SshLink;

/// A listening local port whose connections are piped, each through its own
/// `direct-tcpip` channel, to a `host:port` reachable from the SSH host.
///
/// Invariants: it listens on 127.0.0.1 only (never on other interfaces); it
/// keeps the SSH connection open while it lives; dropping it stops the
/// listener and cuts every connection it carries.
pub struct Tunnel {
    local: SocketAddr,
    target: String,
    via: String,
    link: SshLink,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("local", &self.local)
            .field("target", &self.target)
            .field("via", &self.via)
            .finish()
    }
}

impl Tunnel {
    pub(super) async fn open(link: SshLink, remote_host: &str, remote_port: u16) -> Result<Tunnel> {
        let via = link.host_name.clone();
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::io("binding a local port for an SSH tunnel", e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the tunnel's local address", e))?;
        let target = super::endpoint(remote_host, remote_port);
        tracing::debug!(%local, %target, %via, "SSH tunnel listening");
        let task = tokio::spawn(accept_loop(
            listener,
            link.clone(),
            remote_host.to_owned(),
            remote_port,
        ));
        Ok(Tunnel {
            local,
            target,
            via,
            link,
            task,
        })
    }

    /// The local address (127.0.0.1 and an ephemeral port) to connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `host:port` the tunnel reaches, as seen from the SSH host.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The SSH session carrying the tunnel (asked why a connection broke).
    pub fn link(&self) -> &SshLink {
        &self.link
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every pipe.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, link: SshLink, remote_host: String, remote_port: u16) {
    let mut pipes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    pipes.spawn(pipe(socket, peer, link.clone(), remote_host.clone(), remote_port));
                }
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "SSH tunnel accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = pipes.join_next(), if !pipes.is_empty() => {}
        }
    }
}

async fn pipe(
    mut socket: TcpStream,
    peer: SocketAddr,
    link: SshLink,
    remote_host: String,
    remote_port: u16,
) {
    let _ = socket.set_nodelay(true);
    let via = &link.host_name;
    let channel = match link
        .handle
        .channel_open_direct_tcpip(
            remote_host.as_str(),
            u32::from(remote_port),
            peer.ip().to_string(),
            u32::from(peer.port()),
        )
        .await
    {
        Ok(c) => c,
        Err(e) => {
            match link.lost_reason() {
                Some(reason) => {
                    tracing::warn!(category = "error", target_host = %remote_host, target_port = remote_port, %via, %reason, "SSH tunnel cannot forward: its session was lost")
                }
                None => {
                    tracing::warn!(category = "error", target_host = %remote_host, target_port = remote_port, %via, error = %e, "SSH host refused to forward a connection")
                }
            }
            return;
        }
    };
    let mut stream = channel.into_stream();
    let ended = tokio::io::copy_bidirectional(&mut socket, &mut stream).await;
    // A tunnelled connection cut by the session's end is logged with the
    // SSH reason: the database side only sees its stream close.
    if let Some(reason) = link.lost_reason() {
        tracing::warn!(category = "error", target_host = %remote_host, target_port = remote_port, %via, %reason, "tunnelled connection cut: SSH session lost");
        return;
    }
    match ended {
        Ok((up, down)) => tracing::trace!(up, down, "tunnelled connection closed"),
        Err(e) => tracing::debug!(error = %e, "tunnelled connection ended with an error"),
    }
}
