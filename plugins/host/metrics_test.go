package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/telemetry/telemetrytest"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// TestHostMetrics: a start, a call that crashes the process, the restart
// and a good call are counted by tenant, and the live processes are
// reported.
func TestHostMetrics(t *testing.T) {
	t.Parallel()
	meter := telemetrytest.New(t)
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) { c.MeterProvider = meter })
	ctx := t.Context()

	live, ok := meter.Values(t)["partnerhub.plugin.processes"]
	require.True(t, ok, "the gauge is reported before any process")
	require.Zero(t, live)
	p, err := h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	values := meter.Values(t)
	require.Equal(t, 1.0, values["partnerhub.plugin.processes"])
	crashes, ok := values[`partnerhub.plugin.crashes{env="staging",tenant="acme"}`]
	require.True(t, ok, "a started plugin's crashes are there at 0, so the first one is seen")
	require.Zero(t, crashes)
	crashed := h.running("acme", "staging")
	_, err = p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "crash"})
	require.ErrorIs(t, err, ErrCrashed)
	require.Eventually(t, crashed.client.Exited, 5*time.Second, 10*time.Millisecond)

	p, err = h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	_, err = p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "p"})
	require.NoError(t, err)

	values = meter.Values(t)
	for series, want := range map[string]float64{
		`partnerhub.plugin.starts{env="staging",result="ok",tenant="acme"}`:        2,
		`partnerhub.plugin.crashes{env="staging",tenant="acme"}`:                   1,
		`partnerhub.plugin.calls{method="fulfil",outcome="crashed",tenant="acme"}`: 1,
		`partnerhub.plugin.calls{method="fulfil",outcome="ok",tenant="acme"}`:      1,
		`partnerhub.plugin.call.duration_count{method="fulfil",tenant="acme"}`:     2,
		`partnerhub.plugin.processes`:                                              1,
		// Failed starts are there at 0 from the first start on.
		`partnerhub.plugin.starts{env="staging",result="failed",tenant="acme"}`: 0,
	} {
		got, ok := values[series]
		require.True(t, ok, "%s missing from %v", series, values)
		require.Equal(t, want, got, series)
	}
}

// TestStartMetrics: a start is counted failed only when the plugin failed
// it, not when the caller gave up waiting or the node is closing.
func TestStartMetrics(t *testing.T) {
	t.Parallel()
	meter := telemetrytest.New(t)
	m, err := newHostMetrics(meter, &Host{})
	require.NoError(t, err)
	key := Key{PartnerCode: "acme", Env: "staging"}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	startErr := fmt.Errorf("%w: acme: %w", ErrStart, context.Canceled)

	m.started(t.Context(), key, nil, false)
	m.started(cancelled, key, startErr, false)
	m.started(t.Context(), key, startErr, true)
	m.started(t.Context(), key, ErrPoolFull, false)
	m.started(t.Context(), key, fmt.Errorf("%w: exec format error", ErrStart), false)
	m.started(t.Context(), key, fmt.Errorf("%w: cached bin", ErrChecksum), false)
	require.Equal(t, map[string]float64{
		`partnerhub.plugin.starts{env="staging",result="ok",tenant="acme"}`:     1,
		`partnerhub.plugin.starts{env="staging",result="failed",tenant="acme"}`: 2,
	}, telemetrytest.Matching(meter.Values(t), "partnerhub.plugin.starts"))
}
