package host

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

func TestProbeLeavesTheLiveProcessAlone(t *testing.T) {
	t.Parallel()
	env := plugintest.Build(t, envPluginPackage)
	wallet := plugintest.Wallet(t)
	h := newTestHost(t, plugintest.NewSource(env, wallet))
	live := walletKey(env, "staging")
	live.Settings = map[string]string{"token": "old"}
	p, err := h.Get(t.Context(), live)
	require.NoError(t, err)
	inst := h.running("acme", "staging")

	// Other settings, then another binary: each probed, neither replaces
	// the live process.
	candidate := live
	candidate.Settings = map[string]string{"token": "new"}
	desc, err := h.Probe(t.Context(), candidate)
	require.NoError(t, err)
	require.Equal(t, "envplugin", desc.Name)
	desc, err = h.Probe(t.Context(), walletKey(wallet, "staging"))
	require.NoError(t, err)
	require.Equal(t, "wallet", desc.Name)
	require.Equal(t, uint32(sdk.ProtocolVersion), desc.ProtocolVersion)

	require.Same(t, inst, h.running("acme", "staging"))
	res, err := p.Fulfil(t.Context(), sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "p"})
	require.NoError(t, err, "the Plugin live traffic holds still works")
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	require.Equal(t, 1, h.liveCount(), "the probes' processes are gone, their room in the pool given back")
	probes, err := os.ReadDir(filepath.Join(h.work, probeDirName))
	require.NoError(t, err)
	require.Empty(t, probes, "probe working directories are removed")
}

func TestProbeRunsInAnEmptyDirectory(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))
	// The live directory says protocol 2; the candidate never sees it.
	dir := filepath.Join(h.work, "acme", "staging")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "protocol"), []byte("2"), 0o644))

	desc, err := h.Probe(t.Context(), walletKey(bin, "staging"))
	require.NoError(t, err)
	require.Equal(t, uint32(sdk.ProtocolVersion), desc.ProtocolVersion)
	require.FileExists(t, filepath.Join(dir, "protocol"))
}

func TestProbeFailures(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))
	key := walletKey(bin, "staging")
	key.Settings = map[string]string{"fail": "yes"}

	for range 3 { // failed probes never back off, nor start anything
		_, err := h.Probe(t.Context(), key)
		require.ErrorIs(t, err, ErrStart)
		require.ErrorIs(t, err, sdk.ErrInvalidSettings)
		require.NotErrorIs(t, err, ErrBackoff)
	}
	require.Empty(t, h.pids())
	require.Zero(t, h.liveCount())

	_, err := h.Probe(t.Context(), Key{PartnerCode: "../x", Env: "staging", SHA256: bin.SHA256})
	require.ErrorIs(t, err, ErrInvalidKey)
	require.NoError(t, h.Close())
	_, err = h.Probe(t.Context(), walletKey(bin, "staging"))
	require.ErrorIs(t, err, ErrClosed)
}

// liveCount is the processes the pool counts (probes included).
func (h *Host) liveCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.live
}

func TestProbeCountsAgainstThePool(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) {
		c.MaxProcesses = 1
		c.StartTimeout = 500 * time.Millisecond
	})
	p, err := h.Get(t.Context(), tenantKey("a", bin))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "sleep"})
	}()
	require.Eventually(t, func() bool { return h.inflight("a") == 1 }, 5*time.Second, time.Millisecond)

	_, err = h.Probe(t.Context(), tenantKey("b", bin))
	require.ErrorIs(t, err, ErrPoolFull, "the only process is busy")
	cancel()
	<-done
	_, err = h.Probe(t.Context(), tenantKey("b", bin))
	require.NoError(t, err, "the idle one is evicted for it")
}
