//! Redis Sentinel for [`super::RedisStore`]: the `redis+sentinel://` URL, finding the
//! current primary through the sentinels and checking its role, with every step bounded
//! by the store's timeout (redis's own `sentinel` feature connects without a timeout, so
//! a black-holed sentinel or primary would hang a request: it is not used).

use std::sync::Mutex;
use std::time::Duration;

use redis::io::tcp::TcpSettings;
use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo,
    Value,
};

use super::redis::store_error;
use super::StoreError;

/// Default sentinel port.
const SENTINEL_PORT: u16 = 26379;
/// At most this many sentinels in one URL.
const MAX_SENTINELS: usize = 16;

/// A parsed `redis+sentinel://` URL.
#[derive(Clone)]
pub(super) struct SentinelUrl {
    /// The sentinels, `(host, port)`, in the order they are asked.
    pub(super) sentinels: Vec<(String, u16)>,
    /// The monitored primary's name (`sentinel monitor NAME …`).
    pub(super) service: String,
    /// Credentials and database of the data nodes (primary and replicas).
    pub(super) node: RedisConnectionInfo,
    /// `sentinel_password=`: the sentinels' own `requirepass`.
    pub(super) sentinel_password: Option<String>,
    /// `replicas=N`: replica acknowledgements required for single-use writes.
    pub(super) replicas: Option<usize>,
    /// `wait_ms=M`: how long to wait for them.
    pub(super) wait: Option<Duration>,
}

impl std::fmt::Debug for SentinelUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the passwords.
        f.debug_struct("SentinelUrl")
            .field("sentinels", &self.sentinels)
            .field("service", &self.service)
            .field("db", &self.node.db())
            .field("replicas", &self.replicas)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

fn invalid(what: &str) -> StoreError {
    StoreError(format!("redis: invalid sentinel url: {what}"))
}

/// `%XX` decoding of a URL component (user, password, query value).
fn percent_decode(s: &str) -> Result<String, StoreError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("bad percent escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid("not UTF-8"))
}

fn parse_host_port(s: &str) -> Result<(String, u16), StoreError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("bad IPv6 host"))?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(invalid("bad host")),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let ok_host = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".-:_".contains(&c));
    if !ok_host {
        return Err(invalid("bad host"));
    }
    let port = match port {
        None => SENTINEL_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err(invalid("bad port")),
        },
    };
    Ok((host.to_owned(), port))
}

/// Parses `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/SERVICE[/DB]`
/// `[?replicas=N&wait_ms=M&sentinel_password=P]`.
pub(super) fn parse(url: &str) -> Result<SentinelUrl, StoreError> {
    let rest = url
        .strip_prefix("redis+sentinel://")
        .ok_or_else(|| invalid("scheme must be redis+sentinel"))?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = rest
        .split_once('/')
        .ok_or_else(|| invalid("the service name is missing"))?;
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut node = RedisConnectionInfo::default();
    if let Some(u) = userinfo {
        let (user, pass) = match u.split_once(':') {
            Some((user, pass)) => (user, Some(pass)),
            None => (u, None),
        };
        if !user.is_empty() {
            node = node.set_username(percent_decode(user)?);
        }
        if let Some(p) = pass {
            node = node.set_password(percent_decode(p)?);
        }
    }
    let sentinels = hosts
        .split(',')
        .map(parse_host_port)
        .collect::<Result<Vec<_>, _>>()?;
    if sentinels.len() > MAX_SENTINELS {
        return Err(invalid("too many sentinels"));
    }
    let (service, db) = match path.split_once('/') {
        Some((s, db)) => (s, Some(db)),
        None => (path, None),
    };
    let ok_service = !service.is_empty()
        && service.len() <= 128
        && service
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
    if !ok_service {
        return Err(invalid("bad service name"));
    }
    if let Some(db) = db.filter(|d| !d.is_empty()) {
        let db: i64 = db
            .parse()
            .ok()
            .filter(|d| (0..=1_000_000).contains(d))
            .ok_or_else(|| invalid("bad database number"))?;
        node = node.set_db(db);
    }
    let mut out = SentinelUrl {
        sentinels,
        service: service.to_owned(),
        node,
        sentinel_password: None,
        replicas: None,
        wait: None,
    };
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "replicas" => {
                let n = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= 64)
                    .ok_or_else(|| invalid("replicas must be 0 to 64"))?;
                out.replicas = Some(n);
            }
            "wait_ms" => {
                let ms = v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=60_000).contains(n))
                    .ok_or_else(|| invalid("wait_ms must be 1 to 60000"))?;
                out.wait = Some(Duration::from_millis(ms));
            }
            "sentinel_password" => out.sentinel_password = Some(percent_decode(v)?),
            _ => return Err(invalid("unknown parameter")),
        }
    }
    Ok(out)
}

/// The sentinels of one service, and the primary last found through them.
pub(super) struct Sentinels {
    url: SentinelUrl,
    tcp: TcpSettings,
    /// The primary's client, until a failure makes us ask the sentinels again.
    primary: Mutex<Option<Client>>,
}

impl Sentinels {
    pub(super) fn new(url: SentinelUrl, tcp: TcpSettings) -> Sentinels {
        Sentinels {
            url,
            tcp,
            primary: Mutex::new(None),
        }
    }

    /// Forgets the primary: the next connection asks the sentinels.
    pub(super) fn forget_primary(&self) {
        if let Ok(mut p) = self.primary.lock() {
            *p = None;
        }
    }

    /// A connection to the current primary: the one found last if it still is the
    /// primary (`ROLE`), otherwise the one the first answering sentinel names
    /// (`SENTINEL get-master-addr-by-name`), checked with `ROLE` too (the Sentinel
    /// client protocol). Every connection and reply bounded by `timeout`.
    pub(super) fn connect(&self, timeout: Duration) -> Result<Connection, StoreError> {
        let cached = self.primary.lock().ok().and_then(|p| p.clone());
        if let Some(client) = cached {
            match connect_checked(&client, timeout) {
                Ok(con) => return Ok(con),
                Err(_) => self.forget_primary(),
            }
        }
        let mut last = StoreError("redis sentinel: no sentinel answered".into());
        for (host, port) in &self.url.sentinels {
            let addr = match self.ask_sentinel(host, *port, timeout) {
                Ok(Some(addr)) => addr,
                Ok(None) => {
                    last = StoreError("redis sentinel: service unknown to the sentinel".into());
                    continue;
                }
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let info = ConnectionAddr::Tcp(addr.0, addr.1)
                .into_connection_info()
                .map_err(|e| store_error(&e))?
                .set_redis_settings(self.url.node.clone())
                .set_tcp_settings(self.tcp.clone());
            let client = Client::open(info).map_err(|e| store_error(&e))?;
            match connect_checked(&client, timeout) {
                Ok(con) => {
                    if let Ok(mut p) = self.primary.lock() {
                        *p = Some(client);
                    }
                    return Ok(con);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The primary's address according to one sentinel (`None`: it does not know the
    /// service).
    fn ask_sentinel(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Option<(String, u16)>, StoreError> {
        let mut redis = RedisConnectionInfo::default();
        if let Some(p) = &self.url.sentinel_password {
            redis = redis.set_password(p);
        }
        let info: ConnectionInfo = ConnectionAddr::Tcp(host.to_owned(), port)
            .into_connection_info()
            .map_err(|e| store_error(&e))?
            .set_redis_settings(redis)
            .set_tcp_settings(self.tcp.clone());
        let client = Client::open(info).map_err(|e| store_error(&e))?;
        let mut con = open(&client, timeout)?;
        let answer: Option<Vec<String>> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&self.url.service)
            .query(&mut con)
            .map_err(|e| store_error(&e))?;
        match answer.as_deref() {
            None => Ok(None),
            Some([ip, port]) => match port.parse::<u16>() {
                Ok(port) if !ip.is_empty() && ip.len() <= 253 => Ok(Some((ip.clone(), port))),
                _ => Err(StoreError("redis sentinel answered unexpectedly".into())),
            },
            Some(_) => Err(StoreError("redis sentinel answered unexpectedly".into())),
        }
    }
}

fn open(client: &Client, timeout: Duration) -> Result<Connection, StoreError> {
    let con = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| store_error(&e))?;
    con.set_read_timeout(Some(timeout))
        .and_then(|()| con.set_write_timeout(Some(timeout)))
        .map_err(|e| store_error(&e))?;
    Ok(con)
}

/// A connection to `client` if that node says it is a primary (`ROLE`).
fn connect_checked(client: &Client, timeout: Duration) -> Result<Connection, StoreError> {
    let mut con = open(client, timeout)?;
    let role: Value = redis::cmd("ROLE")
        .query(&mut con)
        .map_err(|e| store_error(&e))?;
    let is_primary = match &role {
        Value::Array(items) => {
            matches!(
                items.first(),
                Some(Value::BulkString(b)) if b.as_slice() == b"master"
            ) || matches!(items.first(), Some(Value::SimpleString(s)) if s == "master")
        }
        _ => false,
    };
    if is_primary {
        Ok(con)
    } else {
        Err(StoreError(
            "redis sentinel: the named node is not a primary".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls() {
        let u = parse("redis+sentinel://127.0.0.1:26379,localhost:26380,[::1]/mymaster").unwrap();
        assert_eq!(
            u.sentinels,
            vec![
                ("127.0.0.1".to_owned(), 26379),
                ("localhost".to_owned(), 26380),
                ("::1".to_owned(), 26379)
            ]
        );
        assert_eq!(u.service, "mymaster");
        assert_eq!(u.replicas, None);
        let u = parse(
            "redis+sentinel://app:p%40ss@h1:1,h2:2/svc/3?replicas=0&wait_ms=200&sentinel_password=s%21",
        )
        .unwrap();
        assert_eq!(u.node.username(), Some("app"));
        assert_eq!(u.node.password(), Some("p@ss"));
        assert_eq!(u.node.db(), 3);
        assert_eq!(u.replicas, Some(0));
        assert_eq!(u.wait, Some(Duration::from_millis(200)));
        assert_eq!(u.sentinel_password.as_deref(), Some("s!"));
        assert!(!format!("{u:?}").contains("p@ss"));
        for bad in [
            "redis://h:1/m",
            "redis+sentinel://h:1",
            "redis+sentinel://h:1/",
            "redis+sentinel://h:0/m",
            "redis+sentinel://h:x/m",
            "redis+sentinel:///m",
            "redis+sentinel://h:1,/m",
            "redis+sentinel://h:1/m?nope=1",
            "redis+sentinel://h:1/m?replicas=x",
            "redis+sentinel://h:1/m?wait_ms=0",
            "redis+sentinel://h:1/m/x",
            "redis+sentinel://h:1/m m",
            "redis+sentinel://:%zz@h:1/m",
            "redis+sentinel://[::1/m",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.0.starts_with("redis: invalid sentinel url"), "{bad}: {e}");
        }
    }
}
