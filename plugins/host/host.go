// Package host runs tenants' fulfilment plugins for partnerhub.
//
// A plugin is an executable identified by the sha256 of its bytes. The host
// fetches it from a [BlobSource] on first use, caches it on disk by that hash,
// verifies it again before every exec, and starts it with hashicorp/go-plugin
// (AutoMTLS, gRPC only).
//
// The host is a pool: a process starts on first use and serves one version
// (sha256 and settings) of one tenant environment. At most one process runs
// per tenant environment, because every version shares the environment's
// working directory (the wallet example keeps its data there): a new version
// replaces the old one once the old one's calls have finished. The pool caps
// live processes (evicting the least recently used idle one), stops idle
// ones, restarts crashed ones with exponential backoff, bounds concurrent
// calls per process and puts a deadline on every call.
//
// Processes are sandboxed (see docs/plugins.md, "Sandbox"): an empty
// environment, a private working directory, their own process group, a
// parent-death signal, an unprivileged user when the host runs as root (one
// uid per tenant environment from a configured range, so tenants cannot
// signal each other's processes, read each other's data or share a process
// budget), and resource limits (address space, CPU time, processes, open
// files).
//
// Probe starts a candidate version outside the pool's slots, so that
// checking an activation never disturbs the process serving traffic.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Defaults for Config's zero values.
const (
	DefaultStartTimeout      = 10 * time.Second
	DefaultCallTimeout       = 30 * time.Second
	DefaultRunAsUser         = "nobody"
	DefaultMaxProcesses      = 64
	DefaultIdleTimeout       = 10 * time.Minute
	DefaultMaxCalls          = 16
	DefaultRestartBackoff    = time.Second
	DefaultRestartBackoffMax = time.Minute
	DefaultUIDCount          = 100_000_000
	DefaultMaxFetches        = 4
	DefaultCacheTTL          = 7 * 24 * time.Hour
)

// maxUID is the largest usable uid: (uid_t)-1 means "no change" to the
// kernel's set*id calls.
const maxUID = 1<<32 - 2

// Config configures a Host. Zero values take the defaults; a zero Limits
// field means no limit.
type Config struct {
	CacheDir     string        // binaries cached here by sha256 (content-addressed), files 0555
	WorkDir      string        // root of per-plugin working directories: WorkDir/<partnerCode>/<env>
	StartTimeout time.Duration // default 10s; also bounds Get's wait for room in a full pool
	CallTimeout  time.Duration // default 30s: a call (waiting for a call slot included) never takes longer, unless ctx's deadline is earlier
	// RunAsUser is the user plugins run as when the host runs as root (euid
	// 0): a user name or a numeric "uid:gid" (needs no passwd entry).
	// Default "nobody". With a UIDBase, RunAsUser is only the owner that
	// older working directories are migrated from.
	RunAsUser string
	// UIDBase, when not 0, gives every tenant environment a user of its
	// own when the host runs as root: uid and gid UIDBase + 2*TenantID,
	// plus 1 for production (see Key.TenantID). No passwd entry is needed.
	// UIDCount (default 100,000,000) is the size of the range: a tenant
	// whose ids fall outside it cannot run plugins. 0 keeps every plugin
	// under RunAsUser.
	UIDBase, UIDCount uint32

	MaxProcesses int           // live plugin processes across all tenants; default 64
	IdleTimeout  time.Duration // a process without calls for this long is stopped; default 10m
	MaxCalls     int           // concurrent calls per process; more wait for a slot; default 16
	// RestartBackoff is the wait before the second consecutive restart of a
	// version that crashed or failed to start (the first is immediate); it
	// doubles per failure up to RestartBackoffMax. Defaults 1s and 1m.
	RestartBackoff    time.Duration
	RestartBackoffMax time.Duration

	// MaxFetches bounds the binaries fetched from the BlobSource at once
	// (default 4): a restart with many cold starts must not hold every
	// executable in flight at the same time.
	MaxFetches int
	// CacheTTL is how long a cached binary no process started from stays
	// on disk (default 7 days); binaries of live processes are never
	// removed. The cache is pruned at New and then every CacheTTL/4 (at
	// most hourly).
	CacheTTL time.Duration

	Limits Limits       // resource limits of each plugin process
	Logger *slog.Logger // nil discards
	// MeterProvider receives the host's metrics (metrics.go); none when nil.
	MeterProvider metric.MeterProvider
}

// Limits are the resource limits (setrlimit) of each plugin process, applied
// by the host right after the process starts. Zero means no limit.
type Limits struct {
	// MemoryBytes limits the address space (RLIMIT_AS), not resident memory:
	// the Go runtime reserves about 750 MiB of address space before main
	// runs, so a Go plugin needs 1 GiB or more.
	MemoryBytes uint64
	// CPUTime limits the CPU time of the process over its whole life
	// (RLIMIT_CPU, whole seconds, rounded up); at the limit the kernel
	// kills it and the next use starts a fresh one.
	CPUTime time.Duration
	// Processes limits the processes and threads of the plugin's user
	// (RLIMIT_NPROC): the kernel counts every process of that user, so
	// plugins sharing one user (no UIDBase) share this budget; with a
	// UIDBase it is per tenant environment. Applied only when the host
	// runs as root, so that plugins have a user of their own.
	Processes uint64
	// OpenFiles limits open file descriptors per process (RLIMIT_NOFILE).
	OpenFiles uint64
}

// BlobSource fetches a plugin executable by its hex sha256 (from Postgres,
// in production). The host verifies the bytes against the hash. A source
// that also implements BlobWriter is streamed instead.
type BlobSource interface {
	Blob(ctx context.Context, sha256 string) ([]byte, error)
}

// BlobWriter streams an executable into w, so that fetching it never holds
// it whole in memory. It returns the bytes written.
type BlobWriter interface {
	WriteBlob(ctx context.Context, sha256 string, w io.Writer) (int64, error)
}

// Key names the plugin to run: a version (SHA256 and Settings) of the
// plugin of one tenant environment. One process runs per (PartnerCode,
// Env); asking for another SHA256 or other Settings replaces it.
type Key struct {
	PartnerCode, Env, SHA256 string
	// TenantID picks the tenant's plugin user when Config.UIDBase is set
	// (then it must be positive and Env "staging" or "production").
	TenantID int64
	Settings map[string]string
}

var (
	// nameSyntax keeps partner codes and environments safe as path elements.
	nameSyntax   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	sha256Syntax = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func (k Key) validate() error {
	switch {
	case !nameSyntax.MatchString(k.PartnerCode):
		return fmt.Errorf("%w: partner code %q", ErrInvalidKey, k.PartnerCode)
	case !nameSyntax.MatchString(k.Env):
		return fmt.Errorf("%w: environment %q", ErrInvalidKey, k.Env)
	case !sha256Syntax.MatchString(k.SHA256):
		return fmt.Errorf("%w: sha256 %q: want 64 lowercase hex digits", ErrInvalidKey, k.SHA256)
	case k.TenantID < 0:
		return fmt.Errorf("%w: tenant id %d", ErrInvalidKey, k.TenantID)
	}
	return nil
}

// Host runs plugin processes. It is safe for concurrent use.
type Host struct {
	cfg     Config
	src     BlobSource
	log     *slog.Logger
	sandbox sandbox

	closed atomic.Bool // set under mu; read without it on the call path
	mu     sync.Mutex
	slots  map[slotKey]*slot
	live   int           // processes starting, running or being stopped; at most cfg.MaxProcesses
	change chan struct{} // closed (and replaced) whenever live or a call count drops: see broadcastLocked

	pins     map[string]int           // cached binaries (sha256) that processes starting, running or probing use: never pruned
	fetching map[string]chan struct{} // binaries being fetched, closed when done: one fetch per binary
	fetches  chan struct{}            // capacity MaxFetches

	metrics hostMetrics

	bg            sync.WaitGroup  // starts, stops, exit watchers and the idle reaper, so Close can wait for them
	closing       context.Context // cancelled by Close: ends every wait in Get and the idle reaper
	cancelClosing context.CancelFunc
}

// New returns a Host that caches binaries in cfg.CacheDir and runs plugins
// under cfg.WorkDir, creating both. It starts nothing until Get.
func New(cfg Config, src BlobSource) (*Host, error) {
	if src == nil {
		return nil, errors.New("host: nil BlobSource")
	}
	if cfg.CacheDir == "" || cfg.WorkDir == "" {
		return nil, errors.New("host: CacheDir and WorkDir are required")
	}
	setDefault(&cfg.StartTimeout, DefaultStartTimeout)
	setDefault(&cfg.CallTimeout, DefaultCallTimeout)
	setDefault(&cfg.RunAsUser, DefaultRunAsUser)
	setDefault(&cfg.MaxProcesses, DefaultMaxProcesses)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.MaxCalls, DefaultMaxCalls)
	setDefault(&cfg.RestartBackoff, DefaultRestartBackoff)
	setDefault(&cfg.RestartBackoffMax, DefaultRestartBackoffMax)
	setDefault(&cfg.MaxFetches, DefaultMaxFetches)
	setDefault(&cfg.CacheTTL, DefaultCacheTTL)
	if cfg.UIDBase != 0 {
		setDefault(&cfg.UIDCount, DefaultUIDCount)
		if uint64(cfg.UIDBase)+uint64(cfg.UIDCount)-1 > maxUID || cfg.UIDCount < 2 {
			return nil, fmt.Errorf("host: plugin uid range %d+%d is not within 1..%d", cfg.UIDBase, cfg.UIDCount, uint64(maxUID))
		}
	}
	cfg.RestartBackoffMax = max(cfg.RestartBackoffMax, cfg.RestartBackoff)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Absolute paths: the binary path must not be resolved against Cmd.Dir.
	var err error
	if cfg.CacheDir, err = filepath.Abs(cfg.CacheDir); err != nil {
		return nil, fmt.Errorf("host: cache dir: %w", err)
	}
	if cfg.WorkDir, err = filepath.Abs(cfg.WorkDir); err != nil {
		return nil, fmt.Errorf("host: work dir: %w", err)
	}
	// 0711: plugin users may reach what they are told the name of (their
	// binary, their working directory) but not list other tenants'.
	for _, dir := range []string{cfg.CacheDir, cfg.WorkDir} {
		if err := makeDir(dir, 0o711); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	sb, err := newSandbox(cfg.RunAsUser, uidRange{cfg.UIDBase, cfg.UIDCount}, cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	for _, dir := range []string{cfg.CacheDir, cfg.WorkDir} {
		if err := sb.checkReachable(dir); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	h := &Host{
		cfg:      cfg,
		src:      src,
		log:      cfg.Logger,
		sandbox:  sb,
		slots:    map[slotKey]*slot{},
		change:   make(chan struct{}),
		pins:     map[string]int{},
		fetching: map[string]chan struct{}{},
		fetches:  make(chan struct{}, cfg.MaxFetches),
	}
	if h.metrics, err = newHostMetrics(cfg.MeterProvider, h); err != nil {
		return nil, fmt.Errorf("host: metrics: %w", err)
	}
	h.closing, h.cancelClosing = context.WithCancel(context.Background())
	h.pruneCache()
	h.bg.Go(h.reapIdle)
	h.bg.Go(h.pruneCacheEvery)
	return h, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Close kills every plugin process (and what is left in their process
// groups) and waits for them to exit. Get and calls on plugins returned
// earlier fail with ErrClosed afterwards; calls in flight fail.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		return nil
	}
	h.closed.Store(true)
	h.cancelClosing()
	var insts []*instance
	for _, s := range h.slots {
		if s.inst != nil {
			insts = append(insts, s.inst)
			h.stopLocked(s.inst, "host closing")
		}
	}
	h.broadcastLocked() // wakes drains, which kill at once once closed
	h.mu.Unlock()

	// Starts in flight see closed when they finish and kill their process.
	h.bg.Wait()
	h.log.Info("plugin host closed", "stopped", len(insts))
	return nil
}
