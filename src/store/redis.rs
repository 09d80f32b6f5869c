//! Redis-backed stores (feature `redis`): [`RedisStore`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::{Connection, ErrorKind, IntoConnectionInfo, RedisError, Value};

use super::sentinel::{self, Sentinels};
use super::{PendingStore, ReplayCache, StoreError};
use crate::ids::RequestId;
use crate::pending::PendingLogin;
use crate::time::Timestamp;

/// Idle connections kept for reuse (more may be open while busy; extras are closed).
const DEFAULT_MAX_IDLE: usize = 64;
/// Default bound on connecting and on each reply.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connection attempt, calls fail at once for this long instead of each
/// waiting for its own attempt (a Redis that is down or black-holed costs one timeout per
/// interval, not one per request).
const RETRY_AFTER: Duration = Duration::from_millis(250);
/// With Sentinel: how long a single-use write waits for its replica acknowledgements.
const DEFAULT_REPLICA_WAIT: Duration = Duration::from_millis(500);

/// Pending logins, replay cache and sessions in one Redis, shared by every SP instance
/// that uses the same URL and prefix.
///
/// One `RedisStore` is the pending-login store,
/// the replay cache and (with the `axum` feature) the integration's session store, so that
/// several SP instances behind a load balancer share one login state.
///
/// ```no_run
/// # fn demo(sp: spid_sp::ServiceProvider) -> Result<(), spid_sp::store::StoreError> {
/// use std::sync::Arc;
/// use spid_sp::store::RedisStore;
///
/// let store = Arc::new(RedisStore::for_sp("redis://127.0.0.1:6379", sp.config().entity_id().as_str())?);
/// let sp = sp.with_replay_cache(store.clone());
/// // with the axum integration:
/// // SpidAuth::builder(sp).pending_store(store.clone()).session_store(store).build()
/// # Ok(()) }
/// ```
///
/// # Semantics
///
/// - Every entry has a time-to-live (`PX`): `expires − now` of the call, so Redis drops
///   it on its own. The expiry is also stored with the value and checked against the
///   caller's clock on reads, so a Redis store behaves like the in-memory ones.
/// - Consumption is atomic on the server: [`ReplayCache::insert_once`] is one
///   `SET key 1 NX PX ttl` and `take` is one `GETDEL` (Redis ≥ 6.2): of two instances
///   receiving the same Response at the same time, exactly one wins.
/// - Pending logins are bounded per client ([`PendingStore::put_for_client`]): one
///   `EVAL` keeps each client's pending logins in a sorted set `PREFIX:pclient:CLIENT`
///   (the client is a hash, never an address) and evicts its oldest beyond the cap.
/// - Keys are `PREFIX:replay:…`, `PREFIX:pending:…` and `PREFIX:kv:…`; the prefix
///   defaults to `spid-sp:` and 16 hex digits of the SHA-256 of the SP's entityID
///   ([`RedisStore::default_prefix`]), so several SPs can share one Redis. Cookie values
///   never reach Redis (the integration stores their SHA-256).
/// - Calls are synchronous (redis's blocking client, no async runtime) and bounded by a
///   timeout (default 2 s, connect and each reply). Connections are pooled; one that
///   fails is dropped, and the next call connects again: when Redis comes back the store
///   works again without a restart. After a failed connection attempt, calls fail at
///   once for 250 ms instead of each waiting for its own attempt. A pooled connection found dead (Redis restarted) is
///   retried once on a fresh one. Any other failure is a [`StoreError`] — the ACS fails
///   closed (HTTP 503 in the axum integration, nothing accepted).
/// - The axum integration runs every handler that touches a store on tokio's blocking
///   pool (`spawn_blocking`), so waiting on Redis never stalls the async workers.
pub struct RedisStore {
    target: Target,
    prefix: String,
    pool: Mutex<Vec<Connection>>,
    max_idle: usize,
    timeout: Duration,
    /// Until when new connections are not attempted (after a failed one).
    down_until: Mutex<Option<Instant>>,
    /// Replica acknowledgements (`WAIT`) required after each single-use write, and how
    /// long to wait for them (0: none asked).
    replica_acks: usize,
    replica_wait: Duration,
}

/// Where the store's Redis is.
enum Target {
    /// One server (`redis://`).
    Direct(redis::Client),
    /// The primary named by Redis Sentinel (`redis+sentinel://`).
    Sentinel(Box<Sentinels>),
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("sentinel", &matches!(self.target, Target::Sentinel(_)))
            .field("replica_acks", &self.replica_acks)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `url` with keys under `prefix`. Does not connect yet: the first call
    /// does (see [`RedisStore::ping`]).
    ///
    /// - `redis://[[user]:password@]host:port[/db]`: one server (`rediss://` needs TLS
    ///   support that this build does not include).
    /// - `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/service[/db]`
    ///   `[?replicas=N&wait_ms=M&sentinel_password=P]`: Redis Sentinel. The sentinels
    ///   (port 26379 by default) are asked in order for the primary of `service`, which
    ///   is checked with `ROLE`; after a failover the store finds the new primary by
    ///   itself. The credentials and `db` are the data nodes'; `sentinel_password` the
    ///   sentinels' own. Every single-use write (replay keys) then waits until
    ///   `replicas` replicas (default **1**) have it, for at most `wait_ms` (default
    ///   500), and fails closed otherwise: see [`RedisStore::replica_acks`] and
    ///   docs/scale-out.md for the guarantee this gives across a failover.
    pub fn open(url: &str, prefix: impl Into<String>) -> Result<RedisStore, StoreError> {
        let tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true);
        let (target, replica_acks, replica_wait) = if url.starts_with("redis+sentinel://") {
            let parsed = sentinel::parse(url)?;
            let acks = parsed.replicas.unwrap_or(1);
            let wait = parsed.wait.unwrap_or(DEFAULT_REPLICA_WAIT);
            (
                Target::Sentinel(Box::new(Sentinels::new(parsed, tcp))),
                acks,
                wait,
            )
        } else {
            let info = url
                .into_connection_info()
                .map_err(|_| StoreError("redis: invalid url".into()))?;
            let client = redis::Client::open(info.set_tcp_settings(tcp))
                .map_err(|_| StoreError("redis: invalid url".into()))?;
            (Target::Direct(client), 0, DEFAULT_REPLICA_WAIT)
        };
        let prefix = prefix.into();
        if prefix.is_empty() || prefix.len() > 200 {
            return Err(StoreError(
                "redis: key prefix must be 1 to 200 bytes".into(),
            ));
        }
        Ok(RedisStore {
            target,
            prefix,
            pool: Mutex::new(Vec::new()),
            max_idle: DEFAULT_MAX_IDLE,
            timeout: DEFAULT_TIMEOUT,
            down_until: Mutex::new(None),
            replica_acks,
            replica_wait,
        })
    }

    /// A store on `url` with the default prefix of the SP `entity_id`
    /// ([`RedisStore::default_prefix`]).
    pub fn for_sp(url: &str, entity_id: &str) -> Result<RedisStore, StoreError> {
        RedisStore::open(url, RedisStore::default_prefix(entity_id))
    }

    /// `spid-sp:` and the first 16 hex digits of the SHA-256 of the SP's entityID: the
    /// same on every instance of one SP, different between SPs.
    pub fn default_prefix(entity_id: &str) -> String {
        use std::fmt::Write as _;
        let digest = crate::dsig::sha256(entity_id.as_bytes());
        let mut s = String::from("spid-sp:");
        for b in digest.iter().take(8) {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    /// Bounds connecting and each reply (default 2 s; at least 1 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> RedisStore {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many idle connections are kept for reuse (default 64).
    #[must_use]
    pub fn max_idle_connections(mut self, n: usize) -> RedisStore {
        self.max_idle = n;
        self
    }

    /// After each single-use write ([`ReplayCache::insert_once`],
    /// [`ReplayCache::insert_all_once`]) wait until `n` replicas acknowledge it (`WAIT n
    /// ms`, in the same round trip), for at most `wait`; fewer acknowledgements are a
    /// [`StoreError`] (the login is refused, HTTP 503). Redis replicates asynchronously,
    /// so without it a failover can lose the last consumed logins and their replay keys.
    /// Default: 1 with a `redis+sentinel://` URL (or its `replicas=`), 0 with `redis://`.
    #[must_use]
    pub fn replica_acks(mut self, n: usize, wait: Duration) -> RedisStore {
        self.replica_acks = n;
        self.replica_wait = wait.max(Duration::from_millis(1));
        self
    }

    /// Whether the store finds its primary through Redis Sentinel.
    pub fn is_sentinel(&self) -> bool {
        matches!(self.target, Target::Sentinel(_))
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Checks that Redis answers (e.g. at start-up, or for a health endpoint).
    pub fn ping(&self) -> Result<(), StoreError> {
        match self.run(|c| redis::cmd("PING").query::<Value>(c))? {
            Value::SimpleString(s) if s == "PONG" => Ok(()),
            _ => Err(unexpected()),
        }
    }

    fn key(&self, kind: &str, key: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + kind.len() + key.len() + 2);
        k.push_str(&self.prefix);
        k.push(':');
        k.push_str(kind);
        k.push(':');
        k.push_str(key);
        k
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let now = Instant::now();
        if let Ok(mut down) = self.down_until.lock() {
            match *down {
                Some(until) if now < until => {
                    return Err(StoreError("redis unavailable, reconnecting".into()))
                }
                Some(_) => *down = None,
                None => {}
            }
        }
        let con = match &self.target {
            Target::Direct(client) => client
                .get_connection_with_timeout(self.timeout)
                .map_err(|e| store_error(&e))
                .and_then(|con| {
                    con.set_read_timeout(Some(self.timeout))
                        .and_then(|()| con.set_write_timeout(Some(self.timeout)))
                        .map_err(|e| store_error(&e))?;
                    Ok(con)
                }),
            Target::Sentinel(s) => s.connect(self.timeout),
        };
        if con.is_err() {
            if let Ok(mut down) = self.down_until.lock() {
                *down = Some(Instant::now() + RETRY_AFTER);
            }
        }
        con
    }

    fn checkout(&self) -> Option<Connection> {
        self.pool.lock().ok().and_then(|mut p| p.pop())
    }

    fn checkin(&self, con: Connection) {
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < self.max_idle {
                p.push(con);
            }
        }
    }

    fn clear_pool(&self) {
        if let Ok(mut p) = self.pool.lock() {
            p.clear();
        }
    }

    /// Runs one command on a pooled connection. A failed connection is never reused (a
    /// late reply would answer the next command); a pooled one found dead, or (with
    /// Sentinel) talking to a node that is no longer the primary, is replaced and the
    /// command tried once more.
    fn run<T>(
        &self,
        f: impl Fn(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        let (mut con, pooled) = match self.checkout() {
            Some(c) => (c, true),
            None => (self.connect()?, false),
        };
        match f(&mut con) {
            Ok(v) => {
                self.checkin(con);
                Ok(v)
            }
            Err(e) => {
                drop(con);
                let stale = self.after_failure(&e);
                if !(pooled && stale) {
                    return Err(store_error(&e));
                }
                let mut con = self.connect()?;
                let v = f(&mut con).map_err(|e| {
                    self.after_failure(&e);
                    store_error(&e)
                })?;
                self.checkin(con);
                Ok(v)
            }
        }
    }

    /// After a failed command: whether the connection was stale (dropped, or a former
    /// primary refusing writes), in which case the pool is emptied (its siblings are
    /// stale too) and, with Sentinel, the primary is asked for again.
    fn after_failure(&self, e: &RedisError) -> bool {
        let demoted = matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"));
        let lost = e.is_connection_dropped() || e.is_connection_refusal();
        let stale = lost || demoted;
        if stale || e.is_io_error() || e.is_timeout() {
            self.clear_pool();
            if let Target::Sentinel(s) = &self.target {
                s.forget_primary();
            }
        }
        stale
    }

    /// Appends `WAIT n ms` when replica acknowledgements are required.
    fn with_wait(&self, pipe: &mut redis::Pipeline) {
        if self.replica_acks > 0 {
            let ms = u64::try_from(self.replica_wait.as_millis()).unwrap_or(u64::MAX);
            pipe.cmd("WAIT").arg(self.replica_acks).arg(ms.max(1));
        }
    }

    /// Checks (and removes) the `WAIT` answer at the end of `answers`.
    fn check_wait(&self, answers: &mut Vec<Value>) -> Result<(), StoreError> {
        if self.replica_acks == 0 {
            return Ok(());
        }
        match answers.pop() {
            Some(Value::Int(n)) if usize::try_from(n).is_ok_and(|n| n >= self.replica_acks) => {
                Ok(())
            }
            Some(Value::Int(_)) => {
                // Perhaps a former primary that has not been demoted yet (its replicas
                // left with the failover): ask the sentinels again on the next call.
                if let Target::Sentinel(s) = &self.target {
                    self.clear_pool();
                    s.forget_primary();
                }
                tracing::warn!(
                    required = self.replica_acks,
                    "redis: single-use write not acknowledged by enough replicas"
                );
                Err(StoreError(
                    "redis: write not acknowledged by enough replicas".into(),
                ))
            }
            _ => Err(unexpected()),
        }
    }

    fn put_value(
        &self,
        key: &str,
        value: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let stored = format!("{} {value}", expires.unix_millis());
        let ttl = ttl_millis(expires, now);
        match self.run(|c| {
            redis::cmd("SET")
                .arg(key)
                .arg(&stored)
                .arg("PX")
                .arg(ttl)
                .query::<Value>(c)
        })? {
            Value::Okay => Ok(()),
            _ => Err(unexpected()),
        }
    }

    fn get_value(
        &self,
        cmd: &str,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let v: Option<String> = self.run(|c| redis::cmd(cmd).arg(key).query(c))?;
        let Some(v) = v else { return Ok(None) };
        let (exp, value) = v.split_once(' ').ok_or_else(unreadable)?;
        let exp: i64 = exp.parse().map_err(|_| unreadable())?;
        Ok((exp > now.unix_millis()).then(|| value.to_owned()))
    }
}

/// [`PendingStore::put_for_client`] as one Lua script (atomic on the server).
/// KEYS: the pending key, the client's sorted set, the sequence counter. ARGV: the
/// stored value, its TTL (ms), its expiry (ms, the score), now (ms), the cap. Members are
/// `SEQ:KEY` (16 hex digits) so that logins with the same expiry leave oldest first.
/// Returns how many were evicted.
const PUT_FOR_CLIENT: &str = r"
local ttl = tonumber(ARGV[2])
local cap = tonumber(ARGV[5])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], ARGV[3], string.format('%016x', seq) .. ':' .. KEYS[1])
local over = redis.call('ZCARD', KEYS[2]) - cap
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do
    redis.call('DEL', string.sub(old[i], 18))
  end
else
  over = 0
end
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return over
";

/// Milliseconds from `now` to `expires`, at least 1 (Redis refuses 0).
fn ttl_millis(expires: Timestamp, now: Timestamp) -> i64 {
    expires
        .unix_millis()
        .saturating_sub(now.unix_millis())
        .max(1)
}

/// A short, lower-case description without the URL, keys or values.
pub(super) fn store_error(e: &RedisError) -> StoreError {
    let msg = if e.is_timeout() {
        "redis timed out".to_owned()
    } else if e.is_connection_refusal() {
        "redis unreachable: connection refused".to_owned()
    } else if e.is_connection_dropped() || e.is_io_error() {
        "redis connection lost".to_owned()
    } else if e.kind() == ErrorKind::AuthenticationFailed {
        "redis authentication failed".to_owned()
    } else if let Some(code) = e.code() {
        let code: String = code
            .chars()
            .take(32)
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        format!("redis error {}", code.to_ascii_lowercase())
    } else {
        "redis error".to_owned()
    };
    StoreError(msg)
}

fn unexpected() -> StoreError {
    StoreError("redis answered unexpectedly".into())
}

fn unreadable() -> StoreError {
    StoreError("stored value unreadable".into())
}

impl ReplayCache for RedisStore {
    fn insert_once(
        &self,
        key: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.insert_all_once(&[key], expires, now)
    }

    /// One pipelined round trip of `SET key 1 NX PX ttl`, one per key (and `WAIT`
    /// when replica acknowledgements are required, [`RedisStore::replica_acks`]).
    fn insert_all_once(
        &self,
        keys: &[&str],
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let ttl = ttl_millis(expires, now);
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("SET")
                .arg(self.key("replay", key))
                .arg("1")
                .arg("NX")
                .arg("PX")
                .arg(ttl);
        }
        self.with_wait(&mut pipe);
        let mut answers: Vec<Value> = self.run(|c| pipe.query(c))?;
        self.check_wait(&mut answers)?;
        if answers.len() != keys.len() {
            return Err(unexpected());
        }
        let mut all_new = true;
        for answer in answers {
            match answer {
                Value::Okay => {}
                Value::Nil => all_new = false,
                _ => return Err(unexpected()),
            }
        }
        Ok(all_new)
    }
}

impl PendingStore for RedisStore {
    fn put(&self, pending: PendingLogin) -> Result<(), StoreError> {
        let json = serde_json::to_string(&pending).map_err(|_| unreadable())?;
        let key = self.key("pending", pending.request_id().as_str());
        self.put_value(&key, &json, pending.expires(), pending.issue_instant())
    }

    /// One round trip: an `EVAL` of a Lua script that `SET`s the pending login,
    /// drops the client's expired entries from its sorted set
    /// (`PREFIX:pclient:CLIENT`, scored by expiry, members ordered by a sequence
    /// number), `ZADD`s this one, `ZPOPMIN`s and `DEL`s the oldest beyond the cap and
    /// keeps the set alive as long as its newest entry.
    fn put_for_client(
        &self,
        pending: PendingLogin,
        client: &str,
        per_client_cap: usize,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(&pending).map_err(|_| unreadable())?;
        let key = self.key("pending", pending.request_id().as_str());
        let set = self.key("pclient", client);
        let seq = self.key("pclient-seq", "");
        let (expires, now) = (pending.expires(), pending.issue_instant());
        let stored = format!("{} {json}", expires.unix_millis());
        let cap = per_client_cap.clamp(1, 1 << 20);
        match self.run(|c| {
            redis::cmd("EVAL")
                .arg(PUT_FOR_CLIENT)
                .arg(3)
                .arg(&key)
                .arg(&set)
                .arg(&seq)
                .arg(&stored)
                .arg(ttl_millis(expires, now))
                .arg(expires.unix_millis())
                .arg(now.unix_millis())
                .arg(cap)
                .query::<Value>(c)
        })? {
            Value::Int(_) => Ok(()),
            _ => Err(unexpected()),
        }
    }

    fn take(&self, id: &RequestId, now: Timestamp) -> Result<Option<PendingLogin>, StoreError> {
        let key = self.key("pending", id.as_str());
        match self.get_value("GETDEL", &key, now)? {
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|_| unreadable()),
            None => Ok(None),
        }
    }
}

impl super::SessionStore for RedisStore {
    fn put(
        &self,
        key: &str,
        value: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.put_value(&self.key("kv", key), value, expires, now)
    }

    fn get(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        self.get_value("GET", &self.key("kv", key), now)
    }

    fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        self.get_value("GETDEL", &self.key("kv", key), now)
    }

    fn remove(&self, key: &str) -> Result<(), StoreError> {
        let key = self.key("kv", key);
        self.run(|c| redis::cmd("DEL").arg(&key).query::<Value>(c))
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_keys() {
        let p = RedisStore::default_prefix("https://sp.example.it/spid");
        assert!(p.starts_with("spid-sp:"));
        assert_eq!(p.len(), "spid-sp:".len() + 16);
        assert_ne!(p, RedisStore::default_prefix("https://other.example.it"));
        let s = RedisStore::open("redis://127.0.0.1:1", "x").unwrap();
        assert_eq!(s.key("pending", "_abc"), "x:pending:_abc");
        assert!(RedisStore::open("http://nope", "x").is_err());
        assert!(RedisStore::open("redis://127.0.0.1:1", "").is_err());
        let t0 = Timestamp::from_unix_seconds(1000);
        assert_eq!(ttl_millis(t0.plus_seconds(2), t0), 2000);
        assert_eq!(ttl_millis(t0, t0.plus_seconds(5)), 1);
    }

    #[test]
    fn unreachable_redis_is_a_clear_error() {
        // Port 1 on loopback: nothing listens there.
        let s = RedisStore::open("redis://127.0.0.1:1", "x")
            .unwrap()
            .timeout(Duration::from_millis(500));
        let t0 = Timestamp::from_unix_seconds(1000);
        let e = s.insert_once("k", t0.plus_seconds(5), t0).unwrap_err();
        assert!(e.0.starts_with("redis "), "{e}");
        assert!(!e.0.contains("127.0.0.1"), "{e}");
    }
}
