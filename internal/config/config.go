// Package config is partnerhub's one typed configuration: every setting, its
// default, its PARTNERHUB_* environment variable and its flag, validated once
// at start so a bad value stops the process with a clear message.
package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid configuration")

// Config holds every setting of the partnerhub binary.
type Config struct {
	DatabaseURL     string
	DBMaxConns      int32
	Listen          string
	PublicURL       string
	DataDir         string
	SecretKey       []byte // 32 bytes; seals credentials at rest
	OperatorKey     string // bootstrap operator API key, stored hashed at start
	LogFormat       string // text or json
	LogLevel        string // debug, info, warn, error
	MetricsListen   string // separate listener for /metrics; empty: none
	MaxBodyBytes    int64
	SignatureWindow time.Duration
	SigningKeyGrace time.Duration // how long a replaced Signing Key or webhook token still verifies
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	ShutdownTimeout time.Duration

	IngestBatchWait time.Duration // 0: no waiting, events still share commits under load
	IngestBatchMax  int           // 1: no batching, one transaction per event

	JobWorkers           int
	JobFetchCooldown     time.Duration
	JobFetchPollInterval time.Duration
	JobMaxAttempts       int
	// Retries of failing fulfilments and fairness between tenants (jobs).
	JobRetryHorizon      time.Duration
	JobReportHorizon     time.Duration
	JobTenantConcurrency int
	JobTenantBurst       int
	JobBreakerFailures   int
	JobBreakerCoolOff    time.Duration
	JobRescueAfter       time.Duration // a job running this long is taken as abandoned by a dead node
	DeliveryRetention    time.Duration

	// Reconciliation (jobs/reconcile.go) and staging test transactions.
	ReconcileInterval      time.Duration
	ReconcileAfter         time.Duration
	ReconcileGiveUp        time.Duration
	ReconcileBatch         int
	TestTransactionTimeout time.Duration
	Simulator              string // off, test or staging (SimulatorTest...)

	// The Pay1st Gateway partnerhub calls (orders, fulfilment reports,
	// reconciliation): base URL and checkout base URL per environment (an
	// empty base URL: that environment has no gateway), and the client's
	// limits.
	Pay1stStagingURL            string
	Pay1stProductionURL         string
	Pay1stStagingCheckoutURL    string
	Pay1stProductionCheckoutURL string
	Pay1stTimeout               time.Duration
	Pay1stMaxAttempts           int
	Pay1stTokenLifetime         time.Duration

	PluginStartTimeout time.Duration
	PluginCallTimeout  time.Duration
	PluginUser         string
	PluginUIDBase      uint32 // per-tenant plugin users from here (0: all run as PluginUser)
	PluginUIDCount     uint32
	PluginMaxFetches   int           // executables fetched from Postgres at once
	PluginCacheTTL     time.Duration // an unused cached executable is removed after this
	PluginMaxSize      int64         // largest plugin executable an upload may send
	// Per-tenant upload quota (0: none), and the upload and activation
	// routes' own deadlines, which replace the HTTP server's timeouts there.
	PluginMaxPerTenant      int
	PluginMaxBytesPerTenant int64
	PluginUploadTimeout     time.Duration
	PluginUploadMinRate     int64 // bytes per second
	PluginActivateTimeout   time.Duration
	// The plugin pool and the sandbox's resource limits (plugins/host); a
	// zero limit is no limit.
	PluginMaxProcesses int
	PluginIdleTimeout  time.Duration
	PluginMaxCalls     int
	PluginMemoryLimit  int64 // address space per process, bytes
	PluginCPULimit     time.Duration
	PluginMaxProcs     int // processes and threads of the plugin user
	PluginMaxFiles     int

	UserInfoTimeout    time.Duration // deadline of the User Info Webhook's plugin call
	RateLimitPerTenant int           // requests per second per tenant on /pay1st; 0: no limit
	RateLimitBurst     int
}

// Values of PARTNERHUB_SIMULATOR.
const (
	SimulatorOff     = "off"
	SimulatorTest    = "test"
	SimulatorStaging = "staging"
)

// Setting describes one configuration entry; docs/config.md lists them all.
type Setting struct {
	Env     string
	Flag    string
	Default string
	Usage   string
	Secret  bool
	set     func(c *Config, v string) error
}

// Settings returns every setting in documentation order.
func Settings() []Setting { return settings }

var settings = []Setting{
	{Env: "PARTNERHUB_DATABASE_URL", Flag: "database-url", Usage: "Postgres connection URL (DATABASE_URL is read when this is unset). Required by serve and migrate.", Secret: true,
		set: func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{Env: "PARTNERHUB_DB_MAX_CONNS", Flag: "db-max-conns", Default: "20", Usage: "Maximum Postgres connections in this process's pool (2-1000; migrate holds one for its lock while it works on another).",
		set: func(c *Config, v string) error { n, err := intIn(v, 2, 1000); c.DBMaxConns = int32(n); return err }},
	{Env: "PARTNERHUB_LISTEN", Flag: "listen", Default: ":8080", Usage: "Address the HTTP server listens on.",
		set: func(c *Config, v string) error { c.Listen = v; return nonEmpty(v) }},
	{Env: "PARTNERHUB_PUBLIC_URL", Flag: "public-url", Default: "http://localhost:8080", Usage: "Base URL Pay1st and browsers reach this service at; integration URLs are built from it.",
		set: func(c *Config, v string) error { c.PublicURL = strings.TrimRight(v, "/"); return absoluteURL(v) }},
	{Env: "PARTNERHUB_DATA_DIR", Flag: "data-dir", Default: ".partnerhub", Usage: "Local directory for the plugin cache and plugin working directories (and, in dev mode, the private Postgres).",
		set: func(c *Config, v string) error { c.DataDir = v; return nonEmpty(v) }},
	{Env: "PARTNERHUB_SECRET_KEY", Flag: "secret-key", Usage: "Base64 of 32 random bytes; seals credentials at rest. Required by serve (dev mode generates one). Generate: head -c32 /dev/urandom | base64", Secret: true,
		set: func(c *Config, v string) error { return c.setSecretKey(v) }},
	{Env: "PARTNERHUB_OPERATOR_KEY", Flag: "operator-key", Usage: "Optional bootstrap operator API key (phk_<8>_<32+> characters); registered, hashed, at start.", Secret: true,
		set: func(c *Config, v string) error { c.OperatorKey = v; return nil }},
	{Env: "PARTNERHUB_LOG_FORMAT", Flag: "log-format", Default: "json", Usage: "Log format: json or text (dev mode defaults to text).",
		set: func(c *Config, v string) error { c.LogFormat = v; return oneOf(v, "json", "text") }},
	{Env: "PARTNERHUB_LOG_LEVEL", Flag: "log-level", Default: "info", Usage: "Log level: debug, info, warn or error.",
		set: func(c *Config, v string) error { c.LogLevel = v; return oneOf(v, "debug", "info", "warn", "error") }},
	{Env: "PARTNERHUB_METRICS_LISTEN", Flag: "metrics-listen", Usage: "Address of a separate HTTP listener serving Prometheus metrics at /metrics (e.g. 127.0.0.1:9464, or :9464 for a scraper on the network). Empty: no /metrics (metrics then go only to an exporter the OTEL_* variables name, if any). Never on PARTNERHUB_LISTEN: the scrape names every tenant (partnerCode) and its volumes; expose this port to your scraper only.",
		set: func(c *Config, v string) error { c.MetricsListen = v; return optionalHostPort(v) }},
	{Env: "PARTNERHUB_MAX_BODY_BYTES", Flag: "max-body-bytes", Default: "1048576", Usage: "Largest request body accepted on Pay1st-facing endpoints (1 KiB - 64 MiB); larger gets 413.",
		set: func(c *Config, v string) error {
			n, err := intIn(v, 1<<10, 64<<20)
			c.MaxBodyBytes = int64(n)
			return err
		}},
	{Env: "PARTNERHUB_SIGNATURE_WINDOW", Flag: "signature-window", Default: "5m", Usage: "How far X-TIMESTAMP may be from now on signed webhooks (1s-1h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, time.Hour)
			c.SignatureWindow = d
			return err
		}},
	{Env: "PARTNERHUB_SIGNING_KEY_GRACE", Flag: "signing-key-grace", Default: "24h", Usage: "How long a replaced Signing Key or webhook token still verifies payment events after a rotation (0-720h; 0 stops the old one at once).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, 0, 30*24*time.Hour)
			c.SigningKeyGrace = d
			return err
		}},
	{Env: "PARTNERHUB_HTTP_READ_TIMEOUT", Flag: "http-read-timeout", Default: "30s", Usage: "Time allowed to read a whole request, headers and body (1s-10m); a plugin upload's body has its own deadline (PARTNERHUB_PLUGIN_UPLOAD_MIN_RATE, PARTNERHUB_PLUGIN_UPLOAD_TIMEOUT).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 10*time.Minute)
			c.ReadTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_HTTP_WRITE_TIMEOUT", Flag: "http-write-timeout", Default: "60s", Usage: "Time allowed to handle a request and write its response (1s-10m); plugin uploads and activations have their own deadlines and always answer.",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 10*time.Minute)
			c.WriteTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_SHUTDOWN_TIMEOUT", Flag: "shutdown-timeout", Default: "30s", Usage: "How long shutdown waits for in-flight requests and jobs (1s-10m).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 10*time.Minute)
			c.ShutdownTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_INGEST_BATCH_WAIT", Flag: "ingest-batch-wait", Default: "2ms", Usage: "Longest a payment event waits for others to share its database commit (0-100ms; 0 waits only while every committer is busy).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, 0, 100*time.Millisecond)
			c.IngestBatchWait = d
			return err
		}},
	{Env: "PARTNERHUB_INGEST_BATCH_MAX", Flag: "ingest-batch-max", Default: "64", Usage: "Most payment events committed in one transaction (1-1000; 1 turns batching off: one transaction per event).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 1000); c.IngestBatchMax = n; return err }},
	{Env: "PARTNERHUB_JOB_WORKERS", Flag: "job-workers", Default: "50", Usage: "Jobs this process works at once (1-10000).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 10000); c.JobWorkers = n; return err }},
	{Env: "PARTNERHUB_JOB_FETCH_COOLDOWN", Flag: "job-fetch-cooldown", Default: "10ms", Usage: "Least time between two job fetches; lower cuts latency, raises database load (1ms-10s).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Millisecond, 10*time.Second)
			c.JobFetchCooldown = d
			return err
		}},
	{Env: "PARTNERHUB_JOB_FETCH_POLL_INTERVAL", Flag: "job-fetch-poll-interval", Default: "1s", Usage: "Fallback poll for jobs when no notification arrives (10ms-1m).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, 10*time.Millisecond, time.Minute)
			c.JobFetchPollInterval = d
			return err
		}},
	{Env: "PARTNERHUB_JOB_MAX_ATTEMPTS", Flag: "job-max-attempts", Default: "25", Usage: "Attempts before a job is discarded and its fulfilment marked failed (1-100).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 100); c.JobMaxAttempts = n; return err }},
	{Env: "PARTNERHUB_JOB_RETRY_HORIZON", Flag: "job-retry-horizon", Default: "24h", Usage: "How long a failing fulfilment is retried, backing off from a second to hours, before it is marked failed for an operator (1m-720h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Minute, 720*time.Hour)
			c.JobRetryHorizon = d
			return err
		}},
	{Env: "PARTNERHUB_JOB_REPORT_HORIZON", Flag: "job-report-horizon", Default: "72h", Usage: "How long a fulfilment report to Pay1st is retried before it is marked failed (shown in the payment's timeline) for an operator (1m-720h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Minute, 720*time.Hour)
			c.JobReportHorizon = d
			return err
		}},
	{Env: "PARTNERHUB_JOB_TENANT_CONCURRENCY", Flag: "job-tenant-concurrency", Default: "10", Usage: "Jobs one tenant environment runs at once on this node; its backlog beyond waits in a separate queue so other tenants are not delayed (1-10000).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 10000); c.JobTenantConcurrency = n; return err }},
	{Env: "PARTNERHUB_JOB_TENANT_BURST", Flag: "job-tenant-burst", Default: "16", Usage: "Jobs one tenant environment may run at once on this node while it is alone there (no other tenant environment's job running or started within a second): the concurrency cap shares a node, and one serving a single tenant has nothing to share; at most the plugin's calls at once are useful (1-10000; below PARTNERHUB_JOB_TENANT_CONCURRENCY means no burst).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 10000); c.JobTenantBurst = n; return err }},
	{Env: "PARTNERHUB_JOB_BREAKER_FAILURES", Flag: "job-breaker-failures", Default: "5", Usage: "Failed plugin calls in a row after which a tenant environment's jobs pause for the cool-off without using up attempts (1-1000).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 1000); c.JobBreakerFailures = n; return err }},
	{Env: "PARTNERHUB_JOB_BREAKER_COOL_OFF", Flag: "job-breaker-cool-off", Default: "30s", Usage: "How long a tenant environment's jobs pause once its plugin failed too often in a row (1s-1h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, time.Hour)
			c.JobBreakerCoolOff = d
			return err
		}},
	{Env: "PARTNERHUB_JOB_RESCUE_AFTER", Flag: "job-rescue-after", Default: "1h", Usage: "How long a job may stay running before a live node takes its node for dead and retries it with the same idempotency key (1s-24h; at least the longer job timeout, plugin start + call timeout + 10s or a fulfilment report's 2m30s, plus a minute).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 24*time.Hour)
			c.JobRescueAfter = d
			return err
		}},
	{Env: "PARTNERHUB_DELIVERY_RETENTION", Flag: "delivery-retention", Default: "2160h", Usage: "How long the deliveries log keeps each request (0 keeps them forever; otherwise 1h-87600h); an hourly job deletes older ones.",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration like 720h", v)
			}
			if d != 0 && (d < time.Hour || d > 87600*time.Hour) {
				return fmt.Errorf("%s is outside 1h..87600h (or 0)", d)
			}
			c.DeliveryRetention = d
			return nil
		}},
	{Env: "PARTNERHUB_RECONCILE_INTERVAL", Flag: "reconcile-interval", Default: "5m", Usage: "How often the leader node asks Pay1st about payments and orders that went without news (1s-24h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 24*time.Hour)
			c.ReconcileInterval = d
			return err
		}},
	{Env: "PARTNERHUB_RECONCILE_AFTER", Flag: "reconcile-after", Default: "15m", Usage: "How long a payment may stay in a non-final status without news, or an order created at Pay1st without any webhook, before reconciliation asks Pay1st; also the first wait before asking again, doubling each time up to a day (1s-24h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 24*time.Hour)
			c.ReconcileAfter = d
			return err
		}},
	{Env: "PARTNERHUB_RECONCILE_GIVE_UP", Flag: "reconcile-give-up", Default: "168h", Usage: "How long without news reconciliation keeps asking before it gives up on a payment or order and says so in the log and the payment's timeline (1m-8760h; more than the reconcile age).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Minute, 8760*time.Hour)
			c.ReconcileGiveUp = d
			return err
		}},
	{Env: "PARTNERHUB_RECONCILE_BATCH", Flag: "reconcile-batch", Default: "200", Usage: "Most payments and orders one reconciliation run asks Pay1st about, one at a time (1-10000); the rest wait for the next run.",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 10000); c.ReconcileBatch = n; return err }},
	{Env: "PARTNERHUB_TEST_TRANSACTION_TIMEOUT", Flag: "test-transaction-timeout", Default: "30s", Usage: "How long a staging test transaction waits for its purchase to go through webhook, plugin and fulfilment report before answering with the steps so far (1s-5m).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 5*time.Minute)
			c.TestTransactionTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_SIMULATOR", Flag: "simulator", Default: "test", Usage: "The in-process Pay1st simulator, sending webhooks to this process only: test runs it in memory (no port, no control endpoints) for staging test transactions; staging also makes it staging's Pay1st gateway, on a loopback port with its control endpoints (dev mode's default; an error with PARTNERHUB_PAY1ST_STAGING_URL set); off runs none (test transactions answer 503).",
		set: func(c *Config, v string) error {
			c.Simulator = v
			return oneOf(v, SimulatorOff, SimulatorTest, SimulatorStaging)
		}},
	{Env: "PARTNERHUB_PAY1ST_STAGING_URL", Flag: "pay1st-staging-url", Usage: "Base URL of the Pay1st Gateway API for staging (Pay1st's sandbox). Unset: staging has no gateway; orders there answer 503.",
		set: func(c *Config, v string) error { c.Pay1stStagingURL = strings.TrimRight(v, "/"); return optionalURL(v) }},
	{Env: "PARTNERHUB_PAY1ST_PRODUCTION_URL", Flag: "pay1st-production-url", Usage: "Base URL of the Pay1st Gateway API for production. Unset: production has no gateway; orders there answer 503.",
		set: func(c *Config, v string) error {
			c.Pay1stProductionURL = strings.TrimRight(v, "/")
			return optionalURL(v)
		}},
	{Env: "PARTNERHUB_PAY1ST_STAGING_CHECKOUT_URL", Flag: "pay1st-staging-checkout-url", Usage: "Base of the customer checkout links of staging orders (base + /checkout?...). Unset: the staging Gateway URL.",
		set: func(c *Config, v string) error {
			c.Pay1stStagingCheckoutURL = strings.TrimRight(v, "/")
			return optionalURL(v)
		}},
	{Env: "PARTNERHUB_PAY1ST_PRODUCTION_CHECKOUT_URL", Flag: "pay1st-production-checkout-url", Usage: "Base of the customer checkout links of production orders. Unset: the production Gateway URL.",
		set: func(c *Config, v string) error {
			c.Pay1stProductionCheckoutURL = strings.TrimRight(v, "/")
			return optionalURL(v)
		}},
	{Env: "PARTNERHUB_PAY1ST_TIMEOUT", Flag: "pay1st-timeout", Default: "15s", Usage: "Deadline of one HTTP attempt at the Pay1st Gateway API, body included (1s-5m).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 5*time.Minute)
			c.Pay1stTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_PAY1ST_MAX_ATTEMPTS", Flag: "pay1st-max-attempts", Default: "4", Usage: "How many times one Pay1st Gateway call is tried in all when Pay1st answers 5xx or the network fails (1-10); 4xx is never retried.",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 10); c.Pay1stMaxAttempts = n; return err }},
	{Env: "PARTNERHUB_PAY1ST_TOKEN_LIFETIME", Flag: "pay1st-token-lifetime", Default: "50m", Usage: "How long a Pay1st access token is used before it is refreshed (Pay1st states no expiry; a 401 refreshes earlier) (1m-24h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Minute, 24*time.Hour)
			c.Pay1stTokenLifetime = d
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_START_TIMEOUT", Flag: "plugin-start-timeout", Default: "10s", Usage: "Time a plugin process has to start and complete its handshake (1s-5m).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 5*time.Minute)
			c.PluginStartTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_CALL_TIMEOUT", Flag: "plugin-call-timeout", Default: "30s", Usage: "Deadline of one plugin call (100ms-10m).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, 100*time.Millisecond, 10*time.Minute)
			c.PluginCallTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_USER", Flag: "plugin-user", Default: "nobody", Usage: "Unprivileged user all plugins run as when partnerhub runs as root and per-tenant users are off (PARTNERHUB_PLUGIN_UID_BASE=0): a user name, or a numeric uid:gid. With them, working directories it owned are handed to their tenant's user.",
		set: func(c *Config, v string) error { c.PluginUser = v; return nonEmpty(v) }},
	{Env: "PARTNERHUB_PLUGIN_UID_BASE", Flag: "plugin-uid-base", Default: "2000000000", Usage: "First uid of the per-tenant plugin users when partnerhub runs as root: each tenant environment's plugins run as uid and gid base + 2 x tenant id, +1 for production, with no passwd entry (0 turns this off: all run as the plugin user; else 65536-4000000000).",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("%q is not a uid", v)
			}
			if n != 0 && (n < 65536 || n > 4_000_000_000) {
				return fmt.Errorf("%d is outside 65536..4000000000 (or 0)", n)
			}
			c.PluginUIDBase = uint32(n)
			return nil
		}},
	{Env: "PARTNERHUB_PLUGIN_UID_COUNT", Flag: "plugin-uid-count", Default: "100000000", Usage: "Number of per-tenant plugin uids from the base (2-294967294; base + count must stay below 4294967295); a tenant whose uids fall outside cannot run plugins.",
		set: func(c *Config, v string) error {
			n, err := intIn(v, 2, 294_967_294)
			c.PluginUIDCount = uint32(n)
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_MAX_FETCHES", Flag: "plugin-max-fetches", Default: "4", Usage: "Plugin executables this node fetches from the database at once, each streamed to its disk cache in 4 MiB pieces (1-64).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 64); c.PluginMaxFetches = n; return err }},
	{Env: "PARTNERHUB_PLUGIN_CACHE_TTL", Flag: "plugin-cache-ttl", Default: "168h", Usage: "A cached plugin executable no process was started from for this long is removed from this node's disk (1h-8760h); a running plugin's never is.",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Hour, 8760*time.Hour)
			c.PluginCacheTTL = d
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_MAX_SIZE", Flag: "plugin-max-size", Default: "67108864", Usage: "Largest plugin executable an upload may send, in bytes (1 KiB - 1 GiB); larger gets 413 and nothing is stored.",
		set: func(c *Config, v string) error {
			n, err := intIn(v, 1<<10, 1<<30)
			c.PluginMaxSize = int64(n)
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_MAX_PER_TENANT", Flag: "plugin-max-per-tenant", Default: "100", Usage: "Most plugins a tenant may keep uploaded (0 for no limit, else 1-100000); past it an upload gets 409 until the tenant deletes some.",
		set: func(c *Config, v string) error { n, err := intIn(v, 0, 100_000); c.PluginMaxPerTenant = n; return err }},
	{Env: "PARTNERHUB_PLUGIN_MAX_BYTES_PER_TENANT", Flag: "plugin-max-bytes-per-tenant", Default: "1073741824", Usage: "Most bytes of plugin executables a tenant may keep uploaded, each plugin counted with its size (0 for no limit, else 1 KiB - 1 TiB); past it an upload gets 409.",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a whole number of bytes", v)
			}
			if n != 0 && (n < 1<<10 || n > 1<<40) {
				return fmt.Errorf("%d is outside 1024..1099511627776 (or 0)", n)
			}
			c.PluginMaxBytesPerTenant = n
			return nil
		}},
	{Env: "PARTNERHUB_PLUGIN_UPLOAD_MIN_RATE", Flag: "plugin-upload-min-rate", Default: "131072", Usage: "Slowest upload accepted, in bytes per second (1 KiB - 1 GiB): a plugin upload may take 15s plus its size at this rate (its Content-Length, else the size limit), at most the upload timeout; slower gets 408.",
		set: func(c *Config, v string) error {
			n, err := intIn(v, 1<<10, 1<<30)
			c.PluginUploadMinRate = int64(n)
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_UPLOAD_TIMEOUT", Flag: "plugin-upload-timeout", Default: "10m", Usage: "Most time a plugin upload's body may take to arrive, whatever its size (1s-1h); replaces the HTTP read timeout on that route.",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, time.Hour)
			c.PluginUploadTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_ACTIVATE_TIMEOUT", Flag: "plugin-activate-timeout", Default: "45s", Usage: "Most time an activation may take, from waiting for the plugin's start to the switch (5s-10m); past it nothing changes and it answers 422 (reason timeout). Its answer is written even when the HTTP write timeout is shorter.",
		set: func(c *Config, v string) error {
			d, err := durIn(v, 5*time.Second, 10*time.Minute)
			c.PluginActivateTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_MAX_PROCESSES", Flag: "plugin-max-processes", Default: "64", Usage: "Most plugin processes this node runs at once, across all tenants (1-10000); when full, the least recently used idle one is stopped.",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 10000); c.PluginMaxProcesses = n; return err }},
	{Env: "PARTNERHUB_PLUGIN_IDLE_TIMEOUT", Flag: "plugin-idle-timeout", Default: "10m", Usage: "A plugin process without calls for this long is stopped; the next call starts it again (1s-24h).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, time.Second, 24*time.Hour)
			c.PluginIdleTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_MAX_CALLS", Flag: "plugin-max-calls", Default: "16", Usage: "Most calls in flight to one plugin process (1-1000); more wait, within their deadline, for one to finish.",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 1000); c.PluginMaxCalls = n; return err }},
	{Env: "PARTNERHUB_PLUGIN_MEMORY_LIMIT", Flag: "plugin-memory-limit", Default: "2147483648", Usage: "Address space of each plugin process, in bytes (RLIMIT_AS; 0 for none, else 1.5 GiB - 1 TiB: the Go runtime alone reserves about 750 MiB).",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a whole number of bytes", v)
			}
			if n != 0 && (n < 3<<29 || n > 1<<40) {
				return fmt.Errorf("%d is outside 1610612736..1099511627776 (or 0)", n)
			}
			c.PluginMemoryLimit = n
			return nil
		}},
	{Env: "PARTNERHUB_PLUGIN_CPU_LIMIT", Flag: "plugin-cpu-limit", Default: "1h", Usage: "CPU time each plugin process may use over its life (RLIMIT_CPU; 0 for none, else 1s-720h); at the limit it is killed and restarted on next use.",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration like 1h", v)
			}
			if d != 0 && (d < time.Second || d > 720*time.Hour) {
				return fmt.Errorf("%s is outside 1s..720h (or 0)", d)
			}
			c.PluginCPULimit = d
			return nil
		}},
	{Env: "PARTNERHUB_PLUGIN_MAX_PROCS", Flag: "plugin-max-procs", Default: "4096", Usage: "Processes and threads each plugin user may have: per tenant environment with per-tenant users, else counted over all plugins (RLIMIT_NPROC; 0 for none, else 64-1000000); applied only when partnerhub runs as root.",
		set: func(c *Config, v string) error {
			n, err := intIn(v, 0, 1_000_000)
			if err == nil && n != 0 && n < 64 {
				err = fmt.Errorf("%d is outside 64..1000000 (or 0)", n)
			}
			c.PluginMaxProcs = n
			return err
		}},
	{Env: "PARTNERHUB_PLUGIN_MAX_FILES", Flag: "plugin-max-files", Default: "1024", Usage: "Open files (and sockets) of each plugin process (RLIMIT_NOFILE; 16-1048576).",
		set: func(c *Config, v string) error { n, err := intIn(v, 16, 1<<20); c.PluginMaxFiles = n; return err }},
	{Env: "PARTNERHUB_USER_INFO_TIMEOUT", Flag: "user-info-timeout", Default: "3s", Usage: "How long the User Info Webhook waits for the active plugin before answering 504 (100ms-30s).",
		set: func(c *Config, v string) error {
			d, err := durIn(v, 100*time.Millisecond, 30*time.Second)
			c.UserInfoTimeout = d
			return err
		}},
	{Env: "PARTNERHUB_RATE_LIMIT_PER_TENANT", Flag: "rate-limit-per-tenant", Default: "200", Usage: "Requests per second each tenant may make to the Pay1st-facing endpoints, per node; more get 429 with Retry-After (0-1000000; 0 turns the limit off).",
		set: func(c *Config, v string) error {
			n, err := intIn(v, 0, 1_000_000)
			c.RateLimitPerTenant = n
			return err
		}},
	{Env: "PARTNERHUB_RATE_LIMIT_BURST", Flag: "rate-limit-burst", Default: "400", Usage: "Requests a tenant may make at once above its rate before the limit applies (1-1000000).",
		set: func(c *Config, v string) error { n, err := intIn(v, 1, 1_000_000); c.RateLimitBurst = n; return err }},
}

// Load builds a Config from defaults, then the environment (getenv), then
// flags in args. Unknown flags and bad values are errors naming the setting.
func Load(name string, args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	values := make([]*string, len(settings))
	for i, s := range settings {
		v := s.Default
		if e := getenv(s.Env); e != "" {
			v = e
		} else if s.Env == "PARTNERHUB_DATABASE_URL" && getenv("DATABASE_URL") != "" {
			v = getenv("DATABASE_URL")
		}
		values[i] = fs.String(s.Flag, v, s.Usage)
	}
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", ErrInvalid, fs.Arg(0))
	}
	for i, s := range settings {
		if err := s.set(&c, *values[i]); err != nil {
			return c, fmt.Errorf("%w: %s (--%s): %w", ErrInvalid, s.Env, s.Flag, err)
		}
	}
	return c, nil
}

// Usage writes the settings as flag help.
func Usage(w io.Writer) {
	for _, s := range settings {
		def := s.Default
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  --%s  (%s, default %s)\n      %s\n", s.Flag, s.Env, def, s.Usage)
	}
}

// RequireServe checks what serve and migrate need beyond well-formed values.
func (c Config) RequireServe() error {
	if c.DatabaseURL == "" {
		return fmt.Errorf("%w: PARTNERHUB_DATABASE_URL (or DATABASE_URL) is required", ErrInvalid)
	}
	if len(c.SecretKey) == 0 {
		return fmt.Errorf("%w: PARTNERHUB_SECRET_KEY is required (base64 of 32 random bytes: head -c32 /dev/urandom | base64)", ErrInvalid)
	}
	return nil
}

func (c *Config) setSecretKey(v string) error {
	if v == "" {
		c.SecretKey = nil
		return nil
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(k) != 32 {
		// The value itself is a secret: never echo it.
		return errors.New("must be base64 of exactly 32 bytes")
	}
	c.SecretKey = k
	return nil
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// optionalHostPort accepts "" or a listen address with a port.
func optionalHostPort(v string) error {
	if v == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return fmt.Errorf("%q is not a host:port listen address", v)
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is outside %d..%d", n, lo, hi)
	}
	return n, nil
}

func durIn(v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 5s or 2m", v)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s is outside %s..%s", d, lo, hi)
	}
	return d, nil
}

// optionalURL accepts "" (not configured) or an absolute http(s) URL.
func optionalURL(v string) error {
	if v == "" {
		return nil
	}
	return absoluteURL(v)
}

func absoluteURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", v)
	}
	return nil
}
