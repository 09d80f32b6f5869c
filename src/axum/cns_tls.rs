//! The dedicated TLS listener of "Entra con CNS" (feature `cns-tls`): an OpenSSL acceptor
//! that asks for an optional client certificate, accepts any (the card is verified by
//! [`CnsVerifier`](crate::cns::CnsVerifier) afterwards, like nginx's
//! `ssl_verify_client optional_no_ca`) and serves only `{prefix}/cns/certificate`.

#[allow(unused_imports)]
use super::*;

use std::io;
use std::time::Duration;

use ::axum::extract::connect_info::Connected;
use ::axum::serve::{IncomingStream, Listener};
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode};
use openssl::x509::X509;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_openssl::SslStream;

/// Longest TLS handshake (certificate choice and PIN happen before it starts).
const HANDSHAKE_SECS: u64 = 30;
/// Handshakes in progress at once.
const MAX_HANDSHAKES: usize = 256;
/// Certificates of the client's chain kept (the card and at most 4 intermediates).
const MAX_CHAIN: usize = 5;

/// A TLS listener for the CNS certificate endpoint: serve it with
/// [`CnsTlsListener::serve`]. Handshakes run in their own tasks (bounded, with a
/// timeout), so a slow client never holds up the others.
#[derive(Debug)]
pub struct CnsTlsListener {
    rx: mpsc::Receiver<(SslStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

/// What the CNS TLS listener knows of a connection: the peer address and the client
/// certificate it presented (PEM, the card first), if any. Set by the listener only, so
/// no request header can forge it.
#[derive(Clone, Debug)]
pub struct CnsTlsPeer {
    addr: SocketAddr,
    pub(super) certificate: Option<Vec<u8>>,
}

impl CnsTlsPeer {
    /// The peer address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl CnsTlsListener {
    /// An acceptor for the listener: the server certificate chain and key (PEM), TLS 1.2+
    /// (Mozilla's intermediate profile), a client certificate requested but optional and
    /// not verified by TLS (the verifier does it, with the trust list and CRLs), no
    /// session resumption (every connection presents the card afresh).
    pub fn acceptor(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<SslAcceptor, ErrorStack> {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        let mut chain = X509::stack_from_pem(cert_chain_pem)?.into_iter();
        if let Some(leaf) = chain.next() {
            b.set_certificate(&leaf)?;
        }
        for c in chain {
            b.add_extra_chain_cert(c)?;
        }
        let key = PKey::private_key_from_pem(key_pem)?;
        b.set_private_key(&key)?;
        b.check_private_key()?;
        b.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
        b.set_session_cache_mode(SslSessionCacheMode::OFF);
        b.set_options(SslOptions::NO_TICKET);
        b.set_session_id_context(b"spid-sp-cns")?;
        Ok(b.build())
    }

    /// Listens on `tcp` with `acceptor` ([`CnsTlsListener::acceptor`]). Must be called
    /// inside a tokio runtime (the handshakes run in tasks of their own).
    pub fn new(tcp: TcpListener, acceptor: SslAcceptor) -> io::Result<CnsTlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = Arc::new(acceptor);
        let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (stream, addr) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let tx = tx.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let Ok(ssl) = Ssl::new(acceptor.context()) else {
                        return;
                    };
                    let Ok(mut tls) = SslStream::new(ssl, stream) else {
                        return;
                    };
                    let hs = tokio::time::timeout(
                        Duration::from_secs(HANDSHAKE_SECS),
                        std::pin::Pin::new(&mut tls).accept(),
                    )
                    .await;
                    match hs {
                        Ok(Ok(())) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        _ => {
                            tracing::debug!(target: "spid_sp::axum::cns", outcome = "tls-handshake-failed", "CNS TLS handshake failed");
                        }
                    }
                });
            }
        });
        Ok(CnsTlsListener { rx, local })
    }

    /// Serves `auth`'s CNS certificate endpoint ([`SpidAuth::cns_routes`]) on this
    /// listener until the server fails.
    pub async fn serve(self, auth: &SpidAuth) -> io::Result<()> {
        let app: Router = auth.cns_routes();
        ::axum::serve(
            self,
            app.into_make_service_with_connect_info::<CnsTlsPeer>(),
        )
        .await
    }
}

impl Listener for CnsTlsListener {
    type Io = SslStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, CnsTlsListener>> for CnsTlsPeer {
    fn connect_info(stream: IncomingStream<'_, CnsTlsListener>) -> Self {
        let ssl = stream.io().ssl();
        let certificate = ssl.peer_certificate().and_then(|leaf| {
            let mut pem = leaf.to_pem().ok()?;
            let leaf_der = leaf.to_der().ok()?;
            if let Some(chain) = ssl.peer_cert_chain() {
                for c in chain.iter().take(MAX_CHAIN) {
                    if c.to_der().ok().as_deref() == Some(leaf_der.as_slice()) {
                        continue;
                    }
                    pem.extend(c.to_pem().ok()?);
                }
            }
            Some(pem)
        });
        CnsTlsPeer {
            addr: *stream.remote_addr(),
            certificate,
        }
    }
}
