package plugins_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// TestChecksLeaveLiveTrafficAlone: activating another version and checking
// new settings start candidates beside the live process, never in its
// place, so calls in flight (jobs holding the plugin) are not stopped.
func TestChecksLeaveLiveTrafficAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	h := newHost(t, b.reg)
	wallet := b.upload(t, "wallet", "1.0.0", plugintest.Wallet(t).Bytes)
	_, err := b.activate(ctx, h, tenant.Staging, wallet.ID)
	require.NoError(t, err)
	key, err := b.reg.ActiveKey(ctx, plugins.ActiveRef{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging, PluginID: wallet.ID})
	require.NoError(t, err)
	live, err := h.Get(ctx, key) // what a job holds
	require.NoError(t, err)
	requireLive := func(msg string) {
		t.Helper()
		d, err := live.Describe(ctx)
		require.NoError(t, err, msg)
		require.Equal(t, "wallet", d.Name)
	}
	requireLive("the activation itself")

	picky := b.upload(t, "picky", "1", plugintest.Build(t, settingsPluginPkg).Bytes)
	_, err = b.reg.SetSettings(ctx, h, plugins.SettingsParams{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging,
		Settings: map[string]string{"api_key": "letmein-123"}, ActivePluginID: wallet.ID})
	require.NoError(t, err)
	requireLive("a settings check")

	_, err = b.activate(ctx, h, tenant.Staging, picky.ID)
	require.NoError(t, err)
	requireLive("activating another version: the old process serves until jobs ask for the new key")
	_, err = live.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "fulfil:PAY-1", PlayerID: "p", PartnerCode: "acme", Environment: "staging"})
	require.NoError(t, err)

	// A failed candidate does not disturb it either.
	_, err = b.reg.SetSettings(ctx, h, plugins.SettingsParams{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging,
		Settings: map[string]string{"api_key": "wrong"}, ActivePluginID: picky.ID})
	require.ErrorIs(t, err, plugins.ErrActivation)
	requireLive("a refused candidate")
}
