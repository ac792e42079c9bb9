package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

type slotKey struct{ partner, env string }

// slot is one tenant environment: its process, and the restart backoff of
// the version that last failed there. Fields other than sem are guarded by
// Host.mu.
type slot struct {
	sem  chan struct{} // capacity 1: one start at a time, cancellable
	inst *instance     // the process serving the environment; never a stopping one

	failVersion string    // the version the failures below belong to
	failures    int       // consecutive crashes and failed starts
	retryAt     time.Time // no start of failVersion before this
	lastErr     error
}

// instance is one plugin process.
type instance struct {
	key     Key // settings cloned
	version string
	slot    *slot
	client  *plugin.Client
	plugin  sdk.Plugin // the raw gRPC adapter, without call timeouts
	runner  *procRunner
	pid     int
	desc    sdk.Description
	calls   chan struct{} // capacity MaxCalls: a token per call in flight

	// Guarded by Host.mu.
	inflight int
	lastUsed time.Time
	stopping bool  // being stopped on purpose: takes no new call, and its exit is no crash
	crashErr error // why it exited by itself; set before reaped is closed

	reaped chan struct{} // closed once its exit is accounted for (live, slot, crashErr)
}

func (i *instance) name() string { return i.key.PartnerCode + "/" + i.key.Env }

// versionOf identifies what a process serves: the binary and the settings.
// Settings are hashed so the string can be compared and kept without
// holding secrets in clear.
func versionOf(k Key) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(k.Settings)) {
		_, _ = fmt.Fprintf(h, "%d:%s%d:%s", len(name), name, len(k.Settings[name]), k.Settings[name])
	}
	return k.SHA256 + "/" + hex.EncodeToString(h.Sum(nil))
}

// Get returns the plugin for key, starting its process if none serves this
// version now (a process of another version of the same tenant environment
// is stopped first, once its calls have finished). Each call on the returned
// Plugin is bounded by CallTimeout. Get is cheap once the plugin runs: call
// it per use rather than keeping the Plugin, so a crashed, replaced or
// evicted process is noticed.
//
// Get fails with a *BackoffError (errors.Is ErrBackoff) without starting
// anything while the version is waiting to be restarted after repeated
// failures, with ErrPoolFull when the pool stays full of busy processes for
// StartTimeout, and with ErrStart when the plugin does not start.
func (h *Host) Get(ctx context.Context, key Key) (sdk.Plugin, error) {
	if err := key.validate(); err != nil {
		return nil, err
	}
	id, err := h.sandbox.identFor(key)
	if err != nil {
		return nil, err
	}
	version := versionOf(key)
	sk := slotKey{key.PartnerCode, key.Env}

	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	s, ok := h.slots[sk]
	if !ok {
		s = &slot{sem: make(chan struct{}, 1)}
		h.slots[sk] = s
	}
	if inst := s.inst; inst != nil && inst.version == version && !inst.exited() {
		inst.lastUsed = time.Now()
		h.mu.Unlock()
		return &client{h: h, inst: inst}, nil
	}
	if err := s.backoffLocked(key, version); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	h.bg.Add(1) // Close waits for this start; closed is false under mu
	h.mu.Unlock()
	defer h.bg.Done()

	// Close cancels every wait below.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(h.closing, cancel)()

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, h.ctxErr(ctx, "waiting for plugin start")
	}
	defer func() { <-s.sem }()

	// Someone else may have started it while we waited; another version, or
	// a crashed process, must be gone before this one starts.
	for {
		h.mu.Lock()
		if h.closed.Load() {
			h.mu.Unlock()
			return nil, ErrClosed
		}
		old := s.inst
		if old != nil && old.version == version && !old.exited() {
			old.lastUsed = time.Now()
			h.mu.Unlock()
			return &client{h: h, inst: old}, nil
		}
		if err := s.backoffLocked(key, version); err != nil {
			h.mu.Unlock()
			return nil, err
		}
		if old == nil {
			h.mu.Unlock()
			break
		}
		if !old.exited() { // an exited one is being reaped as a crash
			h.stopLocked(old, "replaced by another version")
		}
		h.mu.Unlock()
		select {
		case <-old.reaped:
		case <-ctx.Done():
			return nil, h.ctxErr(ctx, "waiting for the previous plugin process to stop")
		}
	}

	bin, err := h.binary(ctx, key.SHA256)
	if err != nil {
		return nil, err
	}
	dir, err := h.workDir(key, id)
	if err != nil {
		h.unpin(key.SHA256)
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	if err := h.reserve(ctx); err != nil {
		h.unpin(key.SHA256)
		return nil, err
	}
	inst, err := h.start(ctx, key, bin, dir, id)
	h.metrics.started(ctx, key, err, h.closed.Load())
	if err != nil {
		h.unpin(key.SHA256)
		h.mu.Lock()
		h.live--
		h.broadcastLocked()
		if ctx.Err() == nil && (errors.Is(err, ErrStart) || errors.Is(err, ErrChecksum)) {
			s.failLocked(version, err, h.cfg)
		}
		h.mu.Unlock()
		if ctx.Err() != nil && h.closed.Load() {
			return nil, ErrClosed
		}
		return nil, err
	}
	inst.version = version
	inst.slot = s
	inst.lastUsed = time.Now()
	h.bg.Go(func() { h.watch(inst) })

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		h.stopLocked(inst, "host closing")
		return nil, ErrClosed
	}
	s.inst = inst
	return &client{h: h, inst: inst}, nil
}

func (h *Host) ctxErr(ctx context.Context, doing string) error {
	if h.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("host: %s: %w", doing, context.Cause(ctx))
}

// backoffLocked returns a *BackoffError while version may not start yet.
func (s *slot) backoffLocked(key Key, version string) error {
	if s.failVersion != version || s.failures == 0 {
		return nil
	}
	wait := time.Until(s.retryAt)
	if wait <= 0 {
		return nil
	}
	return &BackoffError{PartnerCode: key.PartnerCode, Env: key.Env, Failures: s.failures, Wait: wait, Last: s.lastErr}
}

// failLocked counts a crash or failed start of version: the first restart
// is immediate, then RestartBackoff doubling up to RestartBackoffMax.
func (s *slot) failLocked(version string, err error, cfg Config) {
	if s.failVersion != version {
		s.failVersion, s.failures = version, 0
	}
	s.failures++
	s.lastErr = err
	s.retryAt = time.Now().Add(backoff(s.failures, cfg.RestartBackoff, cfg.RestartBackoffMax))
}

// succeedLocked forgets version's failures: it answered a call.
func (s *slot) succeedLocked(version string) {
	if s.failVersion == version {
		s.failures, s.lastErr, s.retryAt = 0, nil, time.Time{}
	}
}

// backoff is the wait before the next start after n consecutive failures.
func backoff(n int, base, ceiling time.Duration) time.Duration {
	if n <= 1 {
		return 0
	}
	d := base
	for range n - 2 {
		if d >= ceiling/2 {
			return ceiling
		}
		d *= 2
	}
	return min(d, ceiling)
}

// reserve takes room for one more process, evicting the least recently
// used idle process when the pool is full, or waiting (up to StartTimeout)
// for a process to become idle or exit.
func (h *Host) reserve(ctx context.Context) error {
	deadline := time.NewTimer(h.cfg.StartTimeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		if h.closed.Load() {
			h.mu.Unlock()
			return ErrClosed
		}
		if h.live < h.cfg.MaxProcesses {
			h.live++
			h.mu.Unlock()
			return nil
		}
		wait := h.change
		if victim := h.lruIdleLocked(); victim != nil {
			// ctx: the eviction is logged in the trace of the call that needs room.
			h.log.InfoContext(ctx, "evicting least recently used plugin process", "partner_code", victim.key.PartnerCode,
				"env", victim.key.Env, "pid", victim.pid, "idle", time.Since(victim.lastUsed).Round(time.Millisecond))
			h.stopLocked(victim, "evicted: pool full")
			wait = victim.reaped
		}
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return h.ctxErr(ctx, "waiting for room in the plugin pool")
		case <-deadline.C:
			return fmt.Errorf("%w: all %d processes had calls in flight for %s", ErrPoolFull, h.cfg.MaxProcesses, h.cfg.StartTimeout)
		}
	}
}

// lruIdleLocked returns the least recently used process without calls in
// flight, or nil.
func (h *Host) lruIdleLocked() *instance {
	var victim *instance
	for _, s := range h.slots {
		if i := s.inst; i != nil && i.inflight == 0 && (victim == nil || i.lastUsed.Before(victim.lastUsed)) {
			victim = i
		}
	}
	return victim
}

// broadcastLocked wakes everyone waiting for room or for calls to finish.
func (h *Host) broadcastLocked() {
	close(h.change)
	h.change = make(chan struct{})
}

// stopLocked takes inst out of service and, once its calls in flight have
// finished (at once when the host is closing), kills it in the background.
func (h *Host) stopLocked(inst *instance, why string) {
	if inst.stopping {
		return
	}
	inst.stopping = true
	if inst.slot.inst == inst {
		inst.slot.inst = nil
	}
	h.log.Info("stopping plugin process", "partner_code", inst.key.PartnerCode, "env", inst.key.Env,
		"sha256", inst.key.SHA256, "pid", inst.pid, "why", why)
	h.bg.Go(func() {
		h.drain(inst)
		inst.client.Kill()
	})
}

// drain waits until inst has no call in flight, it exited, or the host is
// closing. Calls end by their deadline, so this ends too.
func (h *Host) drain(inst *instance) {
	for {
		h.mu.Lock()
		done := inst.inflight == 0 || h.closed.Load()
		wait := h.change
		h.mu.Unlock()
		if done {
			return
		}
		select {
		case <-wait:
		case <-inst.runner.exited:
			return
		}
	}
}

// watch accounts for inst's exit: frees its room in the pool and, when
// nobody asked it to stop, records a crash for the restart backoff.
func (h *Host) watch(inst *instance) {
	<-inst.runner.exited
	status := inst.runner.exitStatus()
	h.mu.Lock()
	h.live--
	h.unpinLocked(inst.key.SHA256) // Get pinned its binary
	crashed := !inst.stopping
	if crashed {
		inst.stopping = true
		if inst.slot.inst == inst {
			inst.slot.inst = nil
		}
		inst.crashErr = fmt.Errorf("%w: %s pid %d: %s", ErrCrashed, inst.name(), inst.pid, status)
		inst.slot.failLocked(inst.version, inst.crashErr, h.cfg)
		h.metrics.crashed(inst.key)
	}
	failures := inst.slot.failures
	h.broadcastLocked()
	h.mu.Unlock()
	close(inst.reaped)
	if !crashed {
		h.log.Info("plugin process stopped", "partner_code", inst.key.PartnerCode, "env", inst.key.Env, "pid", inst.pid)
		return
	}
	h.log.Warn("plugin process crashed", "partner_code", inst.key.PartnerCode, "env", inst.key.Env,
		"sha256", inst.key.SHA256, "pid", inst.pid, "status", status, "consecutive_failures", failures)
	inst.client.Kill() // releases go-plugin's connection and goroutines
}

// exited reports whether the process has exited (its exit may not be
// accounted for yet).
func (i *instance) exited() bool {
	select {
	case <-i.runner.exited:
		return true
	default:
		return false
	}
}

// reapIdle stops processes that had no call for IdleTimeout.
func (h *Host) reapIdle() {
	t := time.NewTicker(min(max(h.cfg.IdleTimeout/4, 10*time.Millisecond), 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-h.closing.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		for _, s := range h.slots {
			if i := s.inst; i != nil && i.inflight == 0 && time.Since(i.lastUsed) >= h.cfg.IdleTimeout {
				h.stopLocked(i, "idle")
			}
		}
		h.mu.Unlock()
	}
}
