//! Typed configuration: defaults < `stampede.toml` < environment.
//!
//! Environment keys are `STAMPEDE_<KEY>` (for example `STAMPEDE_BIND`,
//! `STAMPEDE_JWT_SECRET`, `STAMPEDE_INVENTORY_ACK`), plus the conventional
//! `DATABASE_URL` and `REDIS_URL`. Nested inventory keys take the
//! `STAMPEDE_INVENTORY_` prefix (`STAMPEDE_INVENTORY_RESERVATION_TTL_MS`).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// When a stock decision is acknowledged to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckMode {
    /// After the batch holding the decision is committed (the default).
    Durable,
    /// Right after the in-memory decision; the write follows within one
    /// flush interval plus the commit of a batch (longer behind a slow
    /// database), and a crash, or a take-over by another process (whose
    /// fence refuses the late batch), in that window loses it.
    Memory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on; port 0 picks a free port.
    pub bind: String,
    pub database_url: String,
    pub database_max_connections: u32,
    /// Optional: when set, revoked sessions are mirrored there so every node
    /// refuses them without a database read.
    pub redis_url: Option<String>,
    /// Signs access tokens; at least 32 bytes. Required outside development
    /// mode; in development mode a random one is made up for the process
    /// when unset, so tokens do not survive a restart.
    pub jwt_secret: Option<String>,
    pub access_token_ttl_secs: u64,
    /// Signs refresh tokens; at least 32 bytes, and must differ from
    /// `jwt_secret`. Required, or random, like `jwt_secret`.
    pub refresh_token_secret: Option<String>,
    pub refresh_token_ttl_secs: u64,
    /// Development mode (`STAMPEDE_DEV_MODE`): token secrets may be missing
    /// (random per process) or short. Unset, it is on only when nothing is
    /// configured (see [`Settings::development_mode`]), so a bare `cargo run`
    /// just works and anything else must be configured for real.
    pub dev_mode: Option<bool>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    /// actix-web worker threads; defaults to the number of cores.
    pub http_workers: Option<usize>,
    /// When set, `GET /metrics` answers only requests bearing this token
    /// (`Authorization: Bearer <token>`); unset, it is open to anyone who
    /// can reach the listener.
    pub metrics_token: Option<String>,
    pub inventory: InventorySettings,
    pub counters: CounterSettings,
    pub rate_limit: RateLimitSettings,
    pub orders: OrderSettings,
    pub payments: PaymentSimSettings,
    pub shipments: ShipmentSimSettings,
    pub retention: RetentionSettings,
    pub owner: OwnerSettings,
    /// This node's id (`STAMPEDE_NODE_ID`): set, the process runs as one
    /// node of a cluster ([`ClusterSettings`]); unset, it owns the whole
    /// store alone.
    pub node_id: Option<String>,
    pub cluster: ClusterSettings,
    pub nats: NatsSettings,
    pub outbox: OutboxSettings,
    pub media: MediaSettings,
    /// Refuse purchases (`403 EMAIL_NOT_VERIFIED`) until the buyer has
    /// verified their email (`STAMPEDE_REQUIRE_VERIFIED_EMAIL`). Off, signup
    /// sends no code (one can still be asked for) and anyone may buy.
    pub require_verified_email: bool,
    pub verification: VerificationSettings,
    pub mail: MailSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://stampede.db".into(),
            database_max_connections: 16,
            redis_url: None,
            jwt_secret: None,
            access_token_ttl_secs: 900,
            refresh_token_secret: None,
            refresh_token_ttl_secs: 14 * 24 * 60 * 60,
            dev_mode: None,
            admin_email: None,
            admin_password: None,
            http_workers: None,
            metrics_token: None,
            inventory: InventorySettings::default(),
            counters: CounterSettings::default(),
            rate_limit: RateLimitSettings::default(),
            orders: OrderSettings::default(),
            payments: PaymentSimSettings::default(),
            shipments: ShipmentSimSettings::default(),
            retention: RetentionSettings::default(),
            owner: OwnerSettings::default(),
            node_id: None,
            cluster: ClusterSettings::default(),
            nats: NatsSettings::default(),
            outbox: OutboxSettings::default(),
            media: MediaSettings::default(),
            require_verified_email: true,
            verification: VerificationSettings::default(),
            mail: MailSettings::default(),
        }
    }
}

/// Email verification codes (`STAMPEDE_VERIFICATION_*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerificationSettings {
    /// How long a code (and its link) is good for.
    pub code_ttl_secs: u64,
    /// Wrong codes tried before the code is burnt (a new one must be asked for).
    pub max_attempts: u32,
    /// Codes one account may ask to be sent again per hour (and at once).
    pub resend_per_account_per_hour: u32,
    /// Resend requests one client IP may make per hour (and at once).
    pub resend_per_ip_per_hour: u32,
    /// Where the link in the mail points, e.g. `https://shop.example`; unset,
    /// `http://<bind>`.
    pub public_url: Option<String>,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        Self {
            code_ttl_secs: 15 * 60,
            max_attempts: 5,
            resend_per_account_per_hour: 3,
            resend_per_ip_per_hour: 30,
            public_url: None,
        }
    }
}

impl VerificationSettings {
    pub fn code_ttl(&self) -> Duration {
        Duration::from_secs(self.code_ttl_secs.max(1))
    }
}

/// Mail out (`STAMPEDE_MAIL_*`, and `STAMPEDE_SMTP_URL`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The relay, e.g. `smtp://127.0.0.1:2525` or `smtps://user:pass@host`
    /// (`STAMPEDE_SMTP_URL`). Unset, mails are written as `.eml` files to `dir`.
    pub smtp_url: Option<String>,
    /// The `From:` of every mail.
    pub from: String,
    /// Where mails go as `.eml` files when no relay is configured.
    pub dir: String,
    /// Mail buyers about their account and orders (welcome, paid, shipped,
    /// delivered, cancelled). Verification codes go out regardless.
    pub notifications: bool,
    /// How often the sender and the notifier look for work when not woken.
    pub poll_ms: u64,
    /// Send attempts of one mail before it is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles per attempt up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How long one SMTP send may take before it counts as failed.
    pub send_timeout_ms: u64,
    /// A gap in the outbox (a transaction that took its number but has not
    /// committed yet) is waited for this long before the notifier reads past it.
    pub gap_wait_ms: u64,
    /// Sent mails are deleted from the queue this long after sending.
    pub keep_hours: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "stampede <no-reply@stampede.local>".into(),
            dir: "./stampede-mail".into(),
            notifications: true,
            poll_ms: 500,
            max_attempts: 8,
            retry_base_ms: 1_000,
            retry_max_ms: 5 * 60 * 1000,
            send_timeout_ms: 10_000,
            gap_wait_ms: 5_000,
            keep_hours: 7 * 24,
        }
    }
}

impl MailSettings {
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(10))
    }
    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms.max(1))
    }
    pub fn gap_wait(&self) -> Duration {
        Duration::from_millis(self.gap_wait_ms)
    }
    pub fn keep(&self) -> Duration {
        Duration::from_secs(self.keep_hours.saturating_mul(3600))
    }
    /// Delay before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ms = self
            .retry_base_ms
            .max(1)
            .saturating_mul(1 << attempt.saturating_sub(1).min(20));
        Duration::from_millis(ms.min(self.retry_max_ms.max(1)))
    }
}

/// The broker the outbox is relayed to (`STAMPEDE_NATS_URL`, …). Unset,
/// events are still written to the outbox and readable at
/// `GET /api/v1/admin/events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSettings {
    /// e.g. `nats://127.0.0.1:4222`.
    pub url: Option<String>,
    /// The JetStream stream, created when missing.
    pub stream: String,
    /// Subjects are `<prefix>.<area>.<event>` (`stampede.orders.paid`).
    pub subject_prefix: String,
    /// The stream's deduplication window for `Nats-Msg-Id`, set when the
    /// relay creates the stream.
    pub duplicate_window_secs: u64,
    /// How long one connect or publish may take before it counts as failed.
    pub timeout_ms: u64,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: None,
            stream: "STAMPEDE".into(),
            subject_prefix: "stampede".into(),
            duplicate_window_secs: 120,
            timeout_ms: 5_000,
        }
    }
}

impl NatsSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }
    pub fn duplicate_window(&self) -> Duration {
        Duration::from_secs(self.duplicate_window_secs.max(1))
    }
}

/// The outbox relay and the sale clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// Events one relay pass reads and publishes.
    pub batch_max: u32,
    /// How often the relay looks for events when nobody woke it.
    pub poll_ms: u64,
    /// Published events are deleted this long after publication; without a
    /// broker, events are deleted this long after they happened.
    pub keep_hours: u64,
    /// How often the sale clock looks for sale windows that opened or closed.
    pub sale_clock_ms: u64,
    /// The CloudEvents `source` of every event.
    pub source: String,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            batch_max: 256,
            poll_ms: 1_000,
            keep_hours: 24,
            sale_clock_ms: 1_000,
            source: "/stampede".into(),
        }
    }
}

impl OutboxSettings {
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(1))
    }
    pub fn keep(&self) -> Duration {
        Duration::from_secs(self.keep_hours.saturating_mul(3600))
    }
    pub fn sale_clock(&self) -> Duration {
        Duration::from_millis(self.sale_clock_ms.max(10))
    }
}

/// Product images and profile pictures (`STAMPEDE_MEDIA_*`): where the
/// objects are stored and what an upload may be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Local directory of the objects when `url` is unset; created at start.
    pub dir: String,
    /// An S3-compatible bucket instead, e.g. `s3://bucket` (credentials,
    /// region and endpoint from the usual `AWS_*` variables).
    pub url: Option<String>,
    /// Largest upload accepted, in bytes.
    pub max_bytes: usize,
    /// Largest image accepted, in pixels (width x height), checked from the
    /// header before anything is decoded.
    pub max_pixels: u64,
    /// The display size fits in a square of this many pixels.
    pub display_px: u32,
    /// The thumbnail fits in a square of this many pixels.
    pub thumbnail_px: u32,
    /// Images decoded and resized at once (0: one per core).
    pub concurrency: usize,
    /// How long an upload waits for a free slot before `503 OVERLOADED`.
    pub queue_wait_ms: u64,
    /// Images one product may have.
    pub images_per_product: u32,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            dir: "media".into(),
            url: None,
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            display_px: 1024,
            thumbnail_px: 256,
            concurrency: 0,
            queue_wait_ms: 2_000,
            images_per_product: 10,
        }
    }
}

impl MediaSettings {
    pub fn queue_wait(&self) -> Duration {
        Duration::from_millis(self.queue_wait_ms)
    }
}

/// How long rows nobody needs any more are kept before the pruning job
/// deletes them: given-back reservations, rejected orders (a retry of their
/// key is then judged afresh), and expired sessions with their tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Must be at least the inventory's idempotency window.
    pub keep_hours: u64,
    /// How often the pruning job runs.
    pub every_secs: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            keep_hours: 7 * 24,
            every_secs: 60 * 60,
        }
    }
}

/// The claim on the database: one process sells from it at a time (two
/// would write their stock counters over each other's and oversell).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OwnerSettings {
    /// How long the claim lasts without renewal (it is renewed every third
    /// of it). A process refused at start-up may start once the holder's
    /// lease lapsed; a restart on the holder's own machine after a crash
    /// does not wait. At least 1000.
    pub lease_ms: u64,
    /// Take the database over even while another process's lease is fresh.
    /// That process's write-behind batches are refused from then on, and it
    /// answers 503 instead of selling.
    pub takeover: bool,
}

impl Default for OwnerSettings {
    fn default() -> Self {
        Self {
            lease_ms: 10_000,
            takeover: false,
        }
    }
}

/// Several nodes over one MariaDB (`STAMPEDE_CLUSTER_*`), on when
/// `STAMPEDE_NODE_ID` is set. SKUs are spread over `shards` shards; each
/// shard has one owner node at a time, which holds its lease in a
/// JetStream KV bucket and records the lease's epoch in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// Fixed for the life of the data: every node must agree on it.
    pub shards: u32,
    /// How long a shard's lease lasts without renewal; a dead node's shards
    /// move after about this long. At least 500.
    pub lease_ms: u64,
    /// The KV bucket holding the leases and the roster.
    pub bucket: String,
    /// How long a call forwarded to a shard's owner may take before the
    /// caller hears `503 UNAVAILABLE`.
    pub forward_timeout_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            shards: 64,
            lease_ms: 3_000,
            bucket: "stampede_shards".into(),
            forward_timeout_ms: 2_000,
        }
    }
}

impl ClusterSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }
    pub fn forward_timeout(&self) -> Duration {
        Duration::from_millis(self.forward_timeout_ms.max(1))
    }
}

impl RetentionSettings {
    pub fn keep(&self) -> Duration {
        Duration::from_secs(self.keep_hours.saturating_mul(3600))
    }
    pub fn every(&self) -> Duration {
        Duration::from_secs(self.every_secs.max(1))
    }
}

impl OwnerSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }
}

/// The order sagas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderSettings {
    /// An order not paid this long after placement is cancelled and its
    /// stock released. Must be shorter than the reservation TTL.
    pub payment_window_ms: u64,
    /// How long a new order keeps retrying its reservations while the
    /// inventory answers `UNAVAILABLE`/`OVERLOADED` before it gives up.
    pub reserve_timeout_ms: u64,
    /// A provider call with no answer after this long counts as timed out.
    pub provider_timeout_ms: u64,
    /// First retry delay of a failing step; doubles up to 5 s.
    pub retry_backoff_ms: u64,
    /// Retries of a payment or shipment call before the saga compensates.
    pub max_attempts: u32,
    /// How often a shipping order asks the carrier where the parcel is.
    pub track_interval_ms: u64,
    /// How long `POST /orders` (and pay, cancel) wait for the saga before
    /// answering 503 (the saga goes on; a retry gets the final answer).
    pub reply_timeout_ms: u64,
    /// Most writes (new orders, saga steps) one order-writer batch holds.
    pub writer_batch_max: usize,
    /// Order writes handed over and not yet committed before placements and
    /// sagas wait to hand theirs over.
    pub writer_queue_max: usize,
    /// Sagas of live orders started at once when the service resumes them
    /// at start-up (each loads its order from the store).
    pub resume_concurrency: usize,
    /// How often an order whose saga could not be resumed (an unreadable
    /// row, the store down) is tried again; until then it is listed as
    /// stuck in `GET /admin/sagas`.
    pub resume_retry_ms: u64,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            payment_window_ms: 5 * 60 * 1000,
            reserve_timeout_ms: 60_000,
            provider_timeout_ms: 2_000,
            retry_backoff_ms: 50,
            max_attempts: 5,
            track_interval_ms: 1_000,
            reply_timeout_ms: 10_000,
            writer_batch_max: 512,
            writer_queue_max: 65_536,
            resume_concurrency: 16,
            resume_retry_ms: 30_000,
        }
    }
}

impl OrderSettings {
    pub fn payment_window(&self) -> Duration {
        Duration::from_millis(self.payment_window_ms)
    }
    pub fn reserve_timeout(&self) -> Duration {
        Duration::from_millis(self.reserve_timeout_ms)
    }
    pub fn provider_timeout(&self) -> Duration {
        Duration::from_millis(self.provider_timeout_ms)
    }
    pub fn reply_timeout(&self) -> Duration {
        Duration::from_millis(self.reply_timeout_ms)
    }
    pub fn resume_retry(&self) -> Duration {
        Duration::from_millis(self.resume_retry_ms.max(10))
    }
    pub fn track_interval(&self) -> Duration {
        Duration::from_millis(self.track_interval_ms.max(10))
    }
    /// Delay before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ms = self.retry_backoff_ms.max(1) << attempt.saturating_sub(1).min(10);
        Duration::from_millis(ms.min(5_000))
    }
}

/// The built-in simulated payment provider. Rates are fractions of orders
/// (0.0 to 1.0); the same seed fails the same orders every run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSimSettings {
    pub latency_ms: u64,
    pub decline_rate: f64,
    /// Authorisations that get no answer (the caller sees a timeout).
    pub timeout_rate: f64,
    /// Of the timed-out authorisations, those that go through later anyway.
    pub late_callback_rate: f64,
    /// How long a timing-out call hangs before the caller gives up.
    pub timeout_ms: u64,
    /// How long after the timeout a late authorisation lands.
    pub late_callback_ms: u64,
    pub seed: u64,
}

impl Default for PaymentSimSettings {
    fn default() -> Self {
        Self {
            latency_ms: 5,
            decline_rate: 0.0,
            timeout_rate: 0.0,
            late_callback_rate: 0.0,
            timeout_ms: 200,
            late_callback_ms: 300,
            seed: 1,
        }
    }
}

/// The built-in simulated carrier.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShipmentSimSettings {
    pub latency_ms: u64,
    /// Bookings refused outright.
    pub failure_rate: f64,
    /// Bookings that get no answer (retried by the saga).
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// A booked parcel leaves the warehouse after this long...
    pub ship_after_ms: u64,
    /// ...and is delivered after this long.
    pub deliver_after_ms: u64,
    pub seed: u64,
}

impl Default for ShipmentSimSettings {
    fn default() -> Self {
        Self {
            latency_ms: 5,
            failure_rate: 0.0,
            timeout_rate: 0.0,
            timeout_ms: 200,
            ship_after_ms: 2_000,
            deliver_after_ms: 5_000,
            seed: 1,
        }
    }
}

/// Request budgets (token buckets). Generous by default: a flash sale is a
/// burst of honest buyers, and the limits exist to stop one client hogging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Sign-up, login, refresh and logout requests per client IP.
    pub auth_per_second: u32,
    pub auth_burst: u32,
    /// Purchase requests per signed-in user.
    pub purchase_per_second: u32,
    pub purchase_burst: u32,
    /// Public reads (product listing and detail, SKU availability,
    /// readiness) per client IP. Cached reads are cheap, so the budget is
    /// wide (many buyers may share one address behind a NAT); it stops one
    /// address taking the server's whole read capacity (~50,000 req/s).
    pub public_per_second: u32,
    pub public_burst: u32,
    /// Take the client IP from `X-Forwarded-For` when the request comes
    /// from one of `trusted_proxies`: the rightmost entry that is not a
    /// trusted proxy is the client (entries left of it are the client's own
    /// words). Off, the connecting address is the client.
    pub trust_forwarded_for: bool,
    /// Addresses or CIDR blocks of our reverse proxies (default: loopback).
    pub trusted_proxies: TrustedProxies,
    /// Password checks per account (logins by normalised email, and the
    /// current password of `PATCH`/`DELETE /users/me`), refilled per
    /// minute: caps guessing one account from many addresses.
    pub account_per_minute: u32,
    pub account_burst: u32,
    /// Password hashes (argon2id, ~19 MiB each) computed at once; 0 means
    /// one per core.
    pub hash_concurrency: usize,
    /// How long a request waits for a hashing slot before it is answered
    /// `503 OVERLOADED` with `Retry-After`.
    pub hash_wait_ms: u64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            auth_per_second: 50,
            auth_burst: 500,
            purchase_per_second: 20,
            purchase_burst: 100,
            public_per_second: 1_000,
            public_burst: 10_000,
            trust_forwarded_for: false,
            trusted_proxies: TrustedProxies::loopback(),
            account_per_minute: 5,
            account_burst: 10,
            hash_concurrency: 0,
            hash_wait_ms: 3_000,
        }
    }
}

/// The reverse proxies whose `X-Forwarded-For` entries are believed: a list
/// of addresses (`10.0.0.7`) or CIDR blocks (`10.0.0.0/8`, `fd00::/8`),
/// written as a TOML array or, in the environment, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A proxy on the same host: `127.0.0.0/8` and `::1`.
    pub fn loopback() -> Self {
        // Checked at compile time.
        const V4: IpNet = IpNet::new_assert(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8);
        Self(vec![V4, IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST))])
    }

    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_net)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as its IPv4 one)
    /// is one of our proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `10.0.0.0/8` or a single address, which is its own /32 or /128.
fn parse_net(entry: &str) -> Result<IpNet, String> {
    entry
        .parse::<IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{entry}` is neither an IP address nor a CIDR block"))
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TrustedProxies;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of IP addresses or CIDR blocks, or one comma-separated string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                TrustedProxies::parse(v).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut nets = Vec::new();
                while let Some(entry) = seq.next_element::<String>()? {
                    nets.push(parse_net(entry.trim()).map_err(serde::de::Error::custom)?);
                }
                Ok(TrustedProxies(nets))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Tuning of the inventory engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventorySettings {
    pub ack: AckMode,
    /// MySQL connections reserved for the engine (write-behind batches and
    /// SKU loads), apart from the shared pool. SQLite shares its pool.
    pub connections: u32,
    /// How long an unpaid reservation holds its units.
    pub reservation_ttl_ms: u64,
    /// Longest a decision waits before its batch is written.
    pub flush_interval_ms: u64,
    /// A batch is written at once when it holds this many changes.
    pub batch_max: usize,
    /// Changes waiting for the database before new decisions get `OVERLOADED`.
    pub queue_max: usize,
    /// Requests waiting in one SKU actor's mailbox before `OVERLOADED`.
    pub mailbox_max: usize,
    /// How long a caller waits for an answer before `UNAVAILABLE`.
    pub call_timeout_ms: u64,
    /// An idle SKU actor with nothing live is passivated after this long.
    pub idle_passivate_ms: u64,
    /// How often SKU actors expire reservations and check for idleness.
    pub housekeeping_ms: u64,
    /// Finished reservations are remembered this long for idempotent retries.
    pub idempotency_window_secs: u64,
    /// At most this many finished (given-back) reservations are remembered
    /// per SKU, the newest; a retry of an older one is judged from its
    /// order's row.
    pub finished_kept: usize,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            ack: AckMode::Durable,
            connections: 4,
            reservation_ttl_ms: 10 * 60 * 1000,
            flush_interval_ms: 2,
            batch_max: 4096,
            queue_max: 200_000,
            mailbox_max: 100_000,
            call_timeout_ms: 3_000,
            idle_passivate_ms: 5 * 60 * 1000,
            housekeeping_ms: 1_000,
            idempotency_window_secs: 24 * 60 * 60,
            finished_kept: crate::domain::ledger::FINISHED_KEPT,
        }
    }
}

impl InventorySettings {
    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_millis(self.reservation_ttl_ms)
    }
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms.max(1))
    }
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
    pub fn idle_passivate(&self) -> Duration {
        Duration::from_millis(self.idle_passivate_ms)
    }
    pub fn housekeeping(&self) -> Duration {
        Duration::from_millis(self.housekeeping_ms.max(10))
    }
    pub fn idempotency_window(&self) -> Duration {
        Duration::from_secs(self.idempotency_window_secs)
    }
}

/// Tuning of the community's hot counters (likes, follows): one actor per
/// target, group-committed like stock (`STAMPEDE_COUNTERS_*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CounterSettings {
    /// MySQL connections of the counters' own (loads and batches), apart
    /// from the shared pool. SQLite shares its pool.
    pub connections: u32,
    /// Longest a decision waits before its batch is written.
    pub flush_interval_ms: u64,
    /// A batch is written at once when it holds this many changes.
    pub batch_max: usize,
    /// Changes waiting for the database before new ones get `OVERLOADED`.
    pub queue_max: usize,
    /// Requests waiting in one counter's mailbox before `OVERLOADED`.
    pub mailbox_max: usize,
    /// How long a caller waits for an answer before `UNAVAILABLE`.
    pub call_timeout_ms: u64,
    /// An idle counter actor leaves memory after this long.
    pub idle_passivate_ms: u64,
    /// How often counter actors check for idleness.
    pub housekeeping_ms: u64,
}

impl Default for CounterSettings {
    fn default() -> Self {
        Self {
            connections: 2,
            flush_interval_ms: 2,
            batch_max: 4096,
            queue_max: 200_000,
            mailbox_max: 100_000,
            call_timeout_ms: 3_000,
            idle_passivate_ms: 5 * 60 * 1000,
            housekeeping_ms: 1_000,
        }
    }
}

impl CounterSettings {
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms.max(1))
    }
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
    pub fn idle_passivate(&self) -> Duration {
        Duration::from_millis(self.idle_passivate_ms)
    }
    pub fn housekeeping(&self) -> Duration {
        Duration::from_millis(self.housekeeping_ms.max(10))
    }
}

impl Settings {
    /// Whether this is a development run: as `dev_mode` says when set;
    /// otherwise only when nothing is configured, that is no token secret,
    /// no admin, no Redis and the default SQLite database.
    pub fn development_mode(&self) -> bool {
        self.dev_mode.unwrap_or_else(|| {
            self.jwt_secret.is_none()
                && self.refresh_token_secret.is_none()
                && self.admin_email.is_none()
                && self.admin_password.is_none()
                && self.redis_url.is_none()
                && self.database_url == Settings::default().database_url
        })
    }

    /// Reads `stampede.toml` (or the file named by `STAMPEDE_CONFIG`) and the
    /// environment over the defaults.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let file = std::env::var("STAMPEDE_CONFIG").unwrap_or_else(|_| "stampede.toml".into());
        Self::figment(Toml::file(file)).extract().map_err(Box::new)
    }

    fn figment(file: impl figment::Provider) -> Figment {
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(file)
            .merge(
                Env::prefixed("STAMPEDE_")
                    .ignore(&["config"])
                    // STAMPEDE_TEST_* configure the test suite, not the service.
                    .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
                    // `map` sees the key as written (upper case); `.` nests.
                    .map(|key| nest_section(&key.as_str().to_ascii_lowercase()).into()),
            )
            .merge(Env::raw().only(&["database_url", "redis_url"]))
    }
}

/// `inventory_batch_max` -> `inventory.batch_max`, likewise for every
/// nested section; other keys stay as they are.
fn nest_section(key: &str) -> String {
    // The relay's URL is named like `DATABASE_URL`, not by its section.
    if key == "smtp_url" {
        return "mail.smtp_url".into();
    }
    for section in [
        "inventory",
        "counters",
        "rate_limit",
        "orders",
        "payments",
        "shipments",
        "retention",
        "owner",
        "cluster",
        "nats",
        "outbox",
        "media",
        "verification",
        "mail",
    ] {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return format!("{section}.{rest}");
        }
    }
    key.to_string()
}

#[cfg(test)]
// figment's `Jail` closures return its large error type; that is its API.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "stampede.toml",
                "bind = \"0.0.0.0:9000\"\n[inventory]\nack = \"memory\"\nbatch_max = 7\n",
            )?;
            jail.set_env("STAMPEDE_INVENTORY_ACK", "durable");
            jail.set_env("DATABASE_URL", "mysql://root@127.0.0.1/test");
            let s: Settings = Settings::figment(Toml::file("stampede.toml")).extract()?;
            assert_eq!(s.bind, "0.0.0.0:9000");
            assert_eq!(s.inventory.ack, AckMode::Durable);
            assert_eq!(s.inventory.batch_max, 7);
            assert_eq!(s.database_url, "mysql://root@127.0.0.1/test");
            Ok(())
        });
    }

    #[test]
    fn test_suite_variables_are_not_settings() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STAMPEDE_TEST_MYSQL_URL", "mysql://root@127.0.0.1/test");
            jail.set_env("STAMPEDE_INVENTORY_RESERVATION_TTL_MS", "1234");
            jail.set_env("STAMPEDE_RATE_LIMIT_AUTH_BURST", "7");
            jail.set_env("STAMPEDE_REFRESH_TOKEN_TTL_SECS", "60");
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert_eq!(s.inventory.reservation_ttl_ms, 1234);
            assert_eq!(s.rate_limit.auth_burst, 7);
            assert_eq!(s.refresh_token_ttl_secs, 60);
            Ok(())
        });
    }

    #[test]
    fn order_writer_settings_from_file_and_env() {
        figment::Jail::expect_with(|jail| {
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert_eq!(
                (s.orders.writer_batch_max, s.orders.writer_queue_max),
                (512, 65_536)
            );
            jail.create_file("stampede.toml", "[orders]\nwriter_batch_max = 64\n")?;
            jail.set_env("STAMPEDE_ORDERS_WRITER_QUEUE_MAX", "1024");
            let s: Settings = Settings::figment(Toml::file("stampede.toml")).extract()?;
            assert_eq!(
                (s.orders.writer_batch_max, s.orders.writer_queue_max),
                (64, 1024)
            );
            Ok(())
        });
    }

    #[test]
    fn media_settings_from_env() {
        figment::Jail::expect_with(|jail| {
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert_eq!(
                (s.media.dir.as_str(), s.media.url.as_deref()),
                ("media", None)
            );
            jail.set_env("STAMPEDE_MEDIA_DIR", "/var/lib/stampede/media");
            jail.set_env("STAMPEDE_MEDIA_URL", "s3://shop-media");
            jail.set_env("STAMPEDE_MEDIA_MAX_BYTES", "1048576");
            jail.set_env("STAMPEDE_MEDIA_MAX_PIXELS", "1000000");
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert_eq!(s.media.dir, "/var/lib/stampede/media");
            assert_eq!(s.media.url.as_deref(), Some("s3://shop-media"));
            assert_eq!(
                (s.media.max_bytes, s.media.max_pixels),
                (1_048_576, 1_000_000)
            );
            Ok(())
        });
    }

    #[test]
    fn mail_settings_from_env() {
        figment::Jail::expect_with(|jail| {
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert!(s.require_verified_email);
            assert_eq!(s.mail.smtp_url, None);
            jail.set_env("STAMPEDE_REQUIRE_VERIFIED_EMAIL", "false");
            jail.set_env("STAMPEDE_SMTP_URL", "smtp://127.0.0.1:2525");
            jail.set_env("STAMPEDE_MAIL_FROM", "shop <shop@x.test>");
            jail.set_env("STAMPEDE_MAIL_DIR", "/tmp/m");
            jail.set_env("STAMPEDE_VERIFICATION_CODE_TTL_SECS", "60");
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert!(!s.require_verified_email);
            assert_eq!(s.mail.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
            assert_eq!(s.mail.from, "shop <shop@x.test>");
            assert_eq!(s.mail.dir, "/tmp/m");
            assert_eq!(s.verification.code_ttl_secs, 60);
            Ok(())
        });
    }

    #[test]
    fn mail_backoff_doubles_up_to_the_cap() {
        let m = MailSettings {
            retry_base_ms: 100,
            retry_max_ms: 350,
            ..MailSettings::default()
        };
        let ms: Vec<u128> = (1..=4).map(|a| m.backoff(a).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 350, 350]);
    }

    #[test]
    fn owner_settings_from_env() {
        figment::Jail::expect_with(|jail| {
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert_eq!((s.owner.lease_ms, s.owner.takeover), (10_000, false));
            jail.set_env("STAMPEDE_OWNER_TAKEOVER", "true");
            jail.set_env("STAMPEDE_OWNER_LEASE_MS", "2500");
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert_eq!((s.owner.lease_ms, s.owner.takeover), (2_500, true));
            Ok(())
        });
    }

    #[test]
    fn development_mode_only_when_nothing_is_configured() {
        figment::Jail::expect_with(|jail| {
            let load = || Settings::figment(Toml::file("none.toml")).extract::<Settings>();
            assert!(load()?.development_mode(), "nothing configured");
            jail.set_env("STAMPEDE_BIND", "127.0.0.1:0");
            assert!(
                load()?.development_mode(),
                "the address is not a deployment"
            );
            for (key, value) in [
                ("DATABASE_URL", "mysql://root@127.0.0.1/shop"),
                ("REDIS_URL", "redis://127.0.0.1:6379"),
                ("STAMPEDE_JWT_SECRET", "j"),
                ("STAMPEDE_REFRESH_TOKEN_SECRET", "r"),
                ("STAMPEDE_ADMIN_EMAIL", "ops@shop.test"),
                ("STAMPEDE_ADMIN_PASSWORD", "p"),
            ] {
                jail.clear_env();
                jail.set_env(key, value);
                assert!(!load()?.development_mode(), "{key} is configured");
                jail.set_env("STAMPEDE_DEV_MODE", "true");
                assert!(
                    load()?.development_mode(),
                    "{key} with an explicit dev mode"
                );
            }
            jail.clear_env();
            jail.set_env("STAMPEDE_DEV_MODE", "false");
            assert!(!load()?.development_mode(), "explicitly not");
            Ok(())
        });
    }

    #[test]
    fn rejects_unknown_ack_mode() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STAMPEDE_INVENTORY_ACK", "eventually");
            assert!(
                Settings::figment(Toml::file("none.toml"))
                    .extract::<Settings>()
                    .is_err()
            );
            Ok(())
        });
    }

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_blocks() {
        let p = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1,fd00::/8").expect("parse");
        assert!(p.contains(addr("10.200.0.1")));
        assert!(p.contains(addr("::ffff:10.0.0.1")));
        assert!(p.contains(addr("192.0.2.1")));
        assert!(!p.contains(addr("192.0.2.2")));
        assert!(p.contains(addr("fd12::1")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(TrustedProxies::loopback().contains(addr("127.0.0.5")));
        assert!(TrustedProxies::loopback().contains(addr("::1")));
    }

    #[test]
    fn trusted_proxies_from_file_and_env() {
        figment::Jail::expect_with(|jail| {
            let s: Settings = Settings::figment(Toml::file("none.toml")).extract()?;
            assert_eq!(s.rate_limit.trusted_proxies, TrustedProxies::loopback());
            jail.create_file(
                "stampede.toml",
                "[rate_limit]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\n",
            )?;
            let s: Settings = Settings::figment(Toml::file("stampede.toml")).extract()?;
            assert!(s.rate_limit.trusted_proxies.contains(addr("10.1.1.1")));
            assert!(!s.rate_limit.trusted_proxies.contains(addr("127.0.0.1")));
            jail.set_env("STAMPEDE_RATE_LIMIT_TRUSTED_PROXIES", "172.16.0.0/12,::1");
            let s: Settings = Settings::figment(Toml::file("stampede.toml")).extract()?;
            assert!(s.rate_limit.trusted_proxies.contains(addr("172.20.0.1")));
            assert!(s.rate_limit.trusted_proxies.contains(addr("::1")));
            assert!(!s.rate_limit.trusted_proxies.contains(addr("10.1.1.1")));
            jail.set_env("STAMPEDE_RATE_LIMIT_TRUSTED_PROXIES", "not-an-address");
            assert!(
                Settings::figment(Toml::file("stampede.toml"))
                    .extract::<Settings>()
                    .is_err()
            );
            Ok(())
        });
    }
}
