// Package host runs tenants' fulfilment plugins for partnerhub.
//
// A plugin is an executable identified by the sha256 of its bytes. The host
// fetches it from a [BlobSource] on first use, caches it on disk by that hash,
// starts it with hashicorp/go-plugin (checksum verified before exec, AutoMTLS,
// gRPC only), and keeps one process per tenant (partnerCode) and environment.
// Processes are sandboxed: an empty environment, a private working
// directory, a parent-death signal and, when the host runs as root, an
// unprivileged user.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// Defaults for Config's zero values.
const (
	DefaultStartTimeout = 10 * time.Second
	DefaultCallTimeout  = 30 * time.Second
	DefaultRunAsUser    = "nobody"
)

// Errors returned by Host.
var (
	// ErrChecksum means a binary's bytes do not hash to the key's SHA256,
	// whether fetched from the BlobSource or found in the disk cache.
	// Nothing was started.
	ErrChecksum = errors.New("host: plugin checksum mismatch")
	// ErrStart means the plugin could not be fetched, started, described or
	// configured. It wraps the cause (sdk.ErrInvalidSettings for settings the
	// plugin refused).
	ErrStart = errors.New("host: plugin failed to start")
	// ErrClosed is returned by everything once Close was called.
	ErrClosed = errors.New("host: closed")
	// ErrInvalidKey means a Key is malformed; nothing was attempted.
	ErrInvalidKey = errors.New("host: invalid key")
)

// Config configures a Host. Zero durations and RunAsUser take the defaults.
type Config struct {
	CacheDir     string        // binaries cached here by sha256 (content-addressed), files 0555
	WorkDir      string        // root of per-plugin working directories: WorkDir/<partnerCode>/<env>
	StartTimeout time.Duration // default 10s
	CallTimeout  time.Duration // default 30s, applied to each call unless ctx has an earlier deadline
	RunAsUser    string        // when the host runs as root (euid 0), plugins run as this user; default "nobody"
	Logger       *slog.Logger  // nil discards
}

// BlobSource fetches a plugin executable by its hex sha256 (from Postgres,
// in production). The host verifies the bytes against the hash.
type BlobSource interface {
	Blob(ctx context.Context, sha256 string) ([]byte, error)
}

// Key names the plugin to run. One process runs per (PartnerCode, Env);
// asking for another SHA256 or other Settings replaces it.
type Key struct {
	PartnerCode, Env, SHA256 string
	Settings                 map[string]string
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
	}
	return nil
}

// Host runs plugin processes. It is safe for concurrent use.
type Host struct {
	cfg     Config
	src     BlobSource
	log     *slog.Logger
	sandbox sandbox

	closed   atomic.Bool // set under mu; read without it on the call path
	mu       sync.Mutex
	slots    map[slotKey]*slot
	starting sync.WaitGroup // starts in flight, so Close can wait for them
}

type slotKey struct{ partner, env string }

// slot holds the process of one tenant environment.
type slot struct {
	sem  chan struct{} // capacity 1: one start at a time, cancellable
	inst *instance     // guarded by Host.mu
}

// instance is one running plugin process.
type instance struct {
	key    Key // settings cloned
	client *plugin.Client
	plugin sdk.Plugin // the raw gRPC adapter, without call timeouts
	pid    int
	desc   sdk.Description
}

func (i *instance) serves(k Key) bool {
	return i.key.SHA256 == k.SHA256 && maps.Equal(i.key.Settings, k.Settings)
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
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.RunAsUser == "" {
		cfg.RunAsUser = DefaultRunAsUser
	}
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
	for _, dir := range []string{cfg.CacheDir, cfg.WorkDir} {
		if err := makeDir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	sb, err := newSandbox(cfg.RunAsUser)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	for _, dir := range []string{cfg.CacheDir, cfg.WorkDir} {
		if err := sb.checkReachable(dir); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	return &Host{
		cfg:     cfg,
		src:     src,
		log:     cfg.Logger,
		sandbox: sb,
		slots:   map[slotKey]*slot{},
	}, nil
}

// Get returns the plugin for key, starting it if it is not running (or its
// process has exited, or key's SHA256 or Settings differ from the running
// one's, which is then stopped). Each call on the returned Plugin is bounded
// by CallTimeout. Get is cheap once the plugin runs: call it per use rather
// than keeping the Plugin, so a crashed or replaced process is noticed.
func (h *Host) Get(ctx context.Context, key Key) (sdk.Plugin, error) {
	if err := key.validate(); err != nil {
		return nil, err
	}
	s, err := h.slot(key)
	if err != nil {
		return nil, err
	}
	if inst := h.current(s); inst != nil && inst.serves(key) && !inst.client.Exited() {
		return &client{h: h, inst: inst}, nil
	}

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("host: waiting for plugin start: %w", ctx.Err())
	}
	defer func() { <-s.sem }()

	// Someone else may have started it while we waited.
	if inst := h.current(s); inst != nil {
		if inst.serves(key) && !inst.client.Exited() {
			return &client{h: h, inst: inst}, nil
		}
		h.retire(s, inst)
	}

	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	h.starting.Add(1)
	h.mu.Unlock()
	defer h.starting.Done()

	inst, err := h.start(ctx, key)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		h.kill(inst)
		return nil, ErrClosed
	}
	s.inst = inst
	h.mu.Unlock()
	return &client{h: h, inst: inst}, nil
}

func (h *Host) slot(key Key) (*slot, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return nil, ErrClosed
	}
	k := slotKey{key.PartnerCode, key.Env}
	s, ok := h.slots[k]
	if !ok {
		s = &slot{sem: make(chan struct{}, 1)}
		h.slots[k] = s
	}
	return s, nil
}

func (h *Host) current(s *slot) *instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	return s.inst
}

// retire stops inst, which has exited or is being replaced. Calls still in
// flight on it fail; their jobs retry with the same idempotency key.
func (h *Host) retire(s *slot, inst *instance) {
	h.mu.Lock()
	if s.inst == inst {
		s.inst = nil
	}
	h.mu.Unlock()
	if inst.client.Exited() {
		h.log.Warn("plugin process exited; restarting", "partner_code", inst.key.PartnerCode,
			"env", inst.key.Env, "sha256", inst.key.SHA256, "pid", inst.pid)
	} else {
		h.log.Info("replacing plugin process", "partner_code", inst.key.PartnerCode,
			"env", inst.key.Env, "sha256", inst.key.SHA256, "pid", inst.pid)
	}
	h.kill(inst)
}

// kill stops the process (gracefully if it answers, else SIGKILL) and waits
// for it, then removes a socket a crashed plugin left behind.
func (h *Host) kill(inst *instance) {
	var addr string
	if rc := inst.client.ReattachConfig(); rc != nil && rc.Addr != nil && rc.Addr.Network() == "unix" {
		addr = rc.Addr.String()
	}
	inst.client.Kill()
	if addr != "" {
		removeStaleSocket(addr)
	}
}

// Close kills every plugin process and waits for them to exit. Get and calls
// on plugins returned earlier fail with ErrClosed afterwards.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		return nil
	}
	h.closed.Store(true)
	h.mu.Unlock()

	// A start in flight sees closed when it finishes and kills its process.
	h.starting.Wait()

	h.mu.Lock()
	var insts []*instance
	for _, s := range h.slots {
		if s.inst != nil {
			insts = append(insts, s.inst)
			s.inst = nil
		}
	}
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Go(func() { h.kill(inst) })
	}
	wg.Wait()
	h.log.Info("plugin host closed", "stopped", len(insts))
	return nil
}

// client is the sdk.Plugin handed out by Get: the running instance with a
// deadline on every call.
type client struct {
	h    *Host
	inst *instance
}

var _ sdk.Plugin = (*client)(nil)

func call[T any](ctx context.Context, c *client, op string, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if c.h.closed.Load() {
		return zero, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, c.h.cfg.CallTimeout)
	defer cancel()
	out, err := fn(ctx)
	if err != nil {
		return zero, fmt.Errorf("host: %s/%s %s: %w", c.inst.key.PartnerCode, c.inst.key.Env, op, err)
	}
	return out, nil
}

func (c *client) Describe(ctx context.Context) (sdk.Description, error) {
	return call(ctx, c, "describe", c.inst.plugin.Describe)
}

func (c *client) Configure(ctx context.Context, req sdk.ConfigureRequest) error {
	_, err := call(ctx, c, "configure", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.inst.plugin.Configure(ctx, req)
	})
	return err
}

func (c *client) LookupUser(ctx context.Context, req sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	return call(ctx, c, "lookup user", func(ctx context.Context) (sdk.LookupUserResponse, error) {
		return c.inst.plugin.LookupUser(ctx, req)
	})
}

func (c *client) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	return call(ctx, c, "fulfil", func(ctx context.Context) (sdk.Result, error) {
		return c.inst.plugin.Fulfil(ctx, req)
	})
}

func (c *client) Reverse(ctx context.Context, req sdk.ReverseRequest) (sdk.Result, error) {
	return call(ctx, c, "reverse", func(ctx context.Context) (sdk.Result, error) {
		return c.inst.plugin.Reverse(ctx, req)
	})
}
