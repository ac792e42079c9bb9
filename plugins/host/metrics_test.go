package host

import (
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

	require.Equal(t, 0.0, meter.Values(t)["partnerhub.plugin.processes"])
	p, err := h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	require.Equal(t, 1.0, meter.Values(t)["partnerhub.plugin.processes"])
	crashed := h.running("acme", "staging")
	_, err = p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "crash"})
	require.ErrorIs(t, err, ErrCrashed)
	require.Eventually(t, crashed.client.Exited, 5*time.Second, 10*time.Millisecond)

	p, err = h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	_, err = p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "p"})
	require.NoError(t, err)

	values := meter.Values(t)
	for series, want := range map[string]float64{
		`partnerhub.plugin.starts{env="staging",result="ok",tenant="acme"}`:        2,
		`partnerhub.plugin.crashes{env="staging",tenant="acme"}`:                   1,
		`partnerhub.plugin.calls{method="fulfil",outcome="crashed",tenant="acme"}`: 1,
		`partnerhub.plugin.calls{method="fulfil",outcome="ok",tenant="acme"}`:      1,
		`partnerhub.plugin.call.duration_count{method="fulfil",tenant="acme"}`:     2,
		`partnerhub.plugin.processes`:                                              1,
	} {
		require.Equal(t, want, values[series], series)
	}
}
