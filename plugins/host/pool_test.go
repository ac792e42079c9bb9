package host

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// testTenantIDs numbers the tests' tenants, for per-tenant plugin users.
var testTenantIDs = map[string]int64{"acme": 1, "a": 2, "b": 3, "c": 4, "evil": 5, "bystander": 6}

func tenantKey(partner string, bin plugintest.Binary) Key {
	return Key{PartnerCode: partner, TenantID: testTenantIDs[partner], Env: "staging", SHA256: bin.SHA256}
}

// fulfil gets key's plugin and fulfils for player.
func fulfil(ctx context.Context, h *Host, key Key, player string) (sdk.Result, error) {
	p, err := h.Get(ctx, key)
	if err != nil {
		return sdk.Result{}, err
	}
	return p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k-" + player, PlayerID: player})
}

// requireAnswers checks that key's plugin fulfils an ordinary request.
func requireAnswers(t *testing.T, h *Host, key Key) {
	t.Helper()
	res, err := fulfil(t.Context(), h, key, "player")
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
}

// inflight reports the calls in flight on partner's staging process.
func (h *Host) inflight(partner string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.slots[slotKey{partner, "staging"}]; s != nil && s.inst != nil {
		return s.inst.inflight
	}
	return -1
}

func TestPoolEvictsLeastRecentlyUsedIdleProcess(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) { c.MaxProcesses = 2 })

	requireAnswers(t, h.Host, tenantKey("a", bin))
	requireAnswers(t, h.Host, tenantKey("b", bin))
	requireAnswers(t, h.Host, tenantKey("a", bin)) // b is now the least recently used
	a, b := h.running("a", "staging"), h.running("b", "staging")

	requireAnswers(t, h.Host, tenantKey("c", bin))
	require.Same(t, a, h.running("a", "staging"), "the recently used process stays")
	require.Nil(t, h.running("b", "staging"))
	require.False(t, pidAlive(b.pid), "the evicted process is gone before the new one starts")
	require.Len(t, h.pids(), 2)

	requireAnswers(t, h.Host, tenantKey("b", bin)) // starts again, evicting a
	require.Nil(t, h.running("a", "staging"))
	require.False(t, pidAlive(a.pid))
}

func TestPoolNeverEvictsAProcessWithCallsInFlight(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) {
		c.MaxProcesses = 1
		c.StartTimeout = time.Second
	})
	p, err := h.Get(t.Context(), tenantKey("a", bin))
	require.NoError(t, err)
	a := h.running("a", "staging")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "sleep"})
		done <- err
	}()
	require.Eventually(t, func() bool { return h.inflight("a") == 1 }, 5*time.Second, 5*time.Millisecond)

	_, err = h.Get(t.Context(), tenantKey("b", bin))
	require.ErrorIs(t, err, ErrPoolFull)
	require.ErrorContains(t, err, "calls in flight")
	require.True(t, pidAlive(a.pid), "the busy process was not killed")

	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	requireAnswers(t, h.Host, tenantKey("b", bin)) // a is idle now, so it makes room
	require.False(t, pidAlive(a.pid))
}

func TestPoolStopsIdleProcesses(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })

	requireAnswers(t, h.Host, tenantKey("a", bin))
	a := h.running("a", "staging")
	require.Eventually(t, func() bool { return h.running("a", "staging") == nil && !pidAlive(a.pid) },
		10*time.Second, 10*time.Millisecond)
	require.Empty(t, h.pids())

	requireAnswers(t, h.Host, tenantKey("a", bin)) // next use starts it again
	require.NotEqual(t, a.pid, h.running("a", "staging").pid)
}

func TestPoolBacksOffAfterRepeatedCrashes(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) {
		c.RestartBackoff = 300 * time.Millisecond
		c.RestartBackoffMax = time.Hour
	})
	key := tenantKey("a", bin)

	_, err := fulfil(t.Context(), h.Host, key, "crash")
	require.ErrorIs(t, err, ErrCrashed)
	require.ErrorContains(t, err, "exit status 3")
	require.NotErrorIs(t, err, ErrTimeout)

	// The first restart is immediate; it crashes again.
	_, err = fulfil(t.Context(), h.Host, key, "crash")
	require.ErrorIs(t, err, ErrCrashed)

	// Now Get fails fast, naming the wait, and starts nothing.
	_, err = h.Get(t.Context(), key)
	require.ErrorIs(t, err, ErrBackoff)
	require.ErrorIs(t, err, ErrCrashed, "the last failure is wrapped")
	var backoffErr *BackoffError
	require.ErrorAs(t, err, &backoffErr)
	require.Equal(t, 2, backoffErr.Failures)
	require.Positive(t, backoffErr.Wait)
	require.LessOrEqual(t, backoffErr.Wait, 300*time.Millisecond)
	require.ErrorContains(t, err, "next start allowed in")
	require.Empty(t, h.pids())

	// Another version of the same environment is not held back.
	other := key
	other.Settings = map[string]string{"v": "2"}
	requireAnswers(t, h.Host, other)

	// After the wait it starts; a call that works forgets the failures.
	require.Eventually(t, func() bool {
		_, err := fulfil(t.Context(), h.Host, key, "player")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	_, err = fulfil(t.Context(), h.Host, key, "crash")
	require.ErrorIs(t, err, ErrCrashed)
	requireAnswers(t, h.Host, key) // immediate restart again
}

func TestBackoffGrowsExponentiallyToItsCeiling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {2, time.Second}, {3, 2 * time.Second}, {4, 4 * time.Second},
		{7, 32 * time.Second}, {8, time.Minute}, {9, time.Minute}, {1000, time.Minute},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, backoff(tt.failures, time.Second, time.Minute), "failures=%d", tt.failures)
	}
}

func TestCallsPerProcessAreBounded(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) { c.MaxCalls = 2 })
	key := tenantKey("a", bin)
	p, err := h.Get(t.Context(), key)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			_, err := p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "sleep"})
			errs <- err
		})
	}
	require.Eventually(t, func() bool { return h.inflight("a") == 2 }, 5*time.Second, 5*time.Millisecond)

	// A third caller waits for a slot, until its deadline.
	short, cancelShort := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancelShort()
	_, err = p.Fulfil(short, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "player"})
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 2, h.inflight("a"), "the waiting call never reached the plugin")

	// Other tenants are not affected.
	requireAnswers(t, h.Host, tenantKey("b", bin))

	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, context.Canceled)
	}
	requireAnswers(t, h.Host, key)
}

func TestReplacedVersionFinishesItsCallsFirst(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))
	v1 := tenantKey("a", bin)
	p1, err := h.Get(t.Context(), v1)
	require.NoError(t, err)
	old := h.running("a", "staging")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := p1.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "sleep"})
		done <- err
	}()
	require.Eventually(t, func() bool { return h.inflight("a") == 1 }, 5*time.Second, 5*time.Millisecond)

	// v2 waits for v1's call: both never run at once in one working directory.
	v2 := v1
	v2.Settings = map[string]string{"v": "2"}
	got := make(chan error, 1)
	go func() { _, err := h.Get(t.Context(), v2); got <- err }()
	require.Eventually(t, func() bool { return h.running("a", "staging") == nil }, 5*time.Second, 5*time.Millisecond)
	require.True(t, pidAlive(old.pid), "the old version keeps its call")
	_, err = p1.Describe(t.Context())
	require.ErrorIs(t, err, ErrStopped, "but takes no new one")

	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, <-got)
	require.False(t, pidAlive(old.pid))
	require.Len(t, h.pids(), 1)
}

func TestCloseDuringCallsKillsEverything(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))
	p, err := h.Get(t.Context(), tenantKey("a", bin))
	require.NoError(t, err)
	requireAnswers(t, h.Host, tenantKey("b", bin))
	pids := h.pids()
	require.Len(t, pids, 2)

	done := make(chan error, 1)
	go func() {
		_, err := p.Fulfil(t.Context(), sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "sleep"})
		done <- err
	}()
	require.Eventually(t, func() bool { return h.inflight("a") == 1 }, 5*time.Second, 5*time.Millisecond)

	require.NoError(t, h.Close())
	require.ErrorIs(t, <-done, ErrClosed)
	for _, pid := range pids {
		require.False(t, pidAlive(pid))
		require.Empty(t, groupMembers(pid))
	}
	_, err = h.Get(t.Context(), tenantKey("a", bin))
	require.True(t, errors.Is(err, ErrClosed))
}
