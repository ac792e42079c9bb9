package plugins_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/tenant"
)

const (
	settingsPluginPkg = "github.com/partnerhub/partnerhub/plugins/testdata/settingsplugin"
	notAPluginPkg     = "github.com/partnerhub/partnerhub/plugins/testdata/notaplugin"
)

// activate asks the registry to activate id in acme's env through h.
func (b bundle) activate(ctx context.Context, h plugins.Starter, env string, id int64) (plugins.Activated, error) {
	e, err := b.tenants.Environment(ctx, b.acme, env)
	if err != nil {
		return plugins.Activated{}, err
	}
	return b.reg.Activate(ctx, h, plugins.ActivateParams{
		TenantID: b.acme.ID, PartnerCode: b.acme.PartnerCode, Env: env, PluginID: id, PreviousPluginID: e.ActivePluginID,
		Switch: func(ctx context.Context, tx pgx.Tx) error {
			return b.tenants.SetActivePluginTx(ctx, tx, b.acme, env, id)
		},
	})
}

func (b bundle) activeID(t *testing.T, env string) int64 {
	t.Helper()
	e, err := b.tenants.Environment(context.Background(), b.acme, env)
	require.NoError(t, err)
	return e.ActivePluginID
}

func TestActivateStartsDescribesThenSwitches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	h := newHost(t, b.reg)
	wallet := b.upload(t, "wallet", "1.0.0", plugintest.Wallet(t).Bytes)

	got, err := b.activate(ctx, h, tenant.Staging, wallet.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"staging"}, got.Plugin.ActiveIn)
	require.Equal(t, plugins.Description{Name: "wallet", Version: "1.0.0", ProtocolVersion: 1,
		Capabilities: []string{"lookup_user", "fulfil", "reverse"}}, got.Activation.Description)
	require.Zero(t, got.Activation.PreviousPluginID)
	require.Equal(t, wallet.ID, b.activeID(t, tenant.Staging))
	require.Zero(t, b.activeID(t, tenant.Production), "only the environment asked for")

	active, err := b.reg.Active(ctx, b.acme.ID, tenant.Staging, wallet.ID)
	require.NoError(t, err)
	require.Equal(t, got.Activation.Description, active.Activation.Description)

	// A second version replaces it, remembering the first for a rollback.
	settingsBin := plugintest.Build(t, settingsPluginPkg)
	next := b.upload(t, "settings", "0.1.0", settingsBin.Bytes)
	_, err = b.reg.SetSettings(ctx, nil, plugins.SettingsParams{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging,
		Settings: map[string]string{"api_key": "letmein-123"}})
	require.NoError(t, err)
	got, err = b.activate(ctx, h, tenant.Staging, next.ID)
	require.NoError(t, err)
	require.Equal(t, wallet.ID, got.Activation.PreviousPluginID)
	require.Equal(t, "settings-test", got.Activation.Description.Name)
	// Rollback is activating the previous one again.
	got, err = b.activate(ctx, h, tenant.Staging, wallet.ID)
	require.NoError(t, err)
	require.Equal(t, next.ID, got.Activation.PreviousPluginID)
	require.Equal(t, wallet.ID, b.activeID(t, tenant.Staging))

	var audits int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'environment.activate_plugin'`).Scan(&audits))
	require.Equal(t, 3, audits)
}

func TestActivateFailureKeepsThePreviousPlugin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	h := newHost(t, b.reg)
	wallet := b.upload(t, "wallet", "1.0.0", plugintest.Wallet(t).Bytes)
	_, err := b.activate(ctx, h, tenant.Staging, wallet.ID)
	require.NoError(t, err)

	otherArch := "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "amd64"
	}
	foreign, err := b.reg.Upload(ctx, plugins.UploadParams{TenantID: b.acme.ID, Name: "foreign", Version: "1", OS: runtime.GOOS, Arch: otherArch},
		bytesReader(plugintest.Wallet(t).Bytes))
	require.NoError(t, err)
	script := b.upload(t, "script", "1", []byte("#!/bin/sh\necho 'this is not a plugin'\nsleep 5\n"))
	exits := b.upload(t, "exits", "1", plugintest.Build(t, notAPluginPkg).Bytes)
	picky := b.upload(t, "picky", "1", plugintest.Build(t, settingsPluginPkg).Bytes)
	secret := "wrong-SECRET-value-42"
	_, err = b.reg.SetSettings(ctx, nil, plugins.SettingsParams{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging,
		Settings: map[string]string{"api_key": secret}})
	require.NoError(t, err)

	tests := []struct {
		name   string
		id     int64
		reason string
	}{
		{"other platform", foreign.ID, plugins.ReasonPlatform},
		{"prints something else than a handshake", script.ID, plugins.ReasonHandshake},
		{"exits at once", exits.ID, plugins.ReasonCrashed},
		{"refuses its settings", picky.ID, plugins.ReasonSettings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.activate(ctx, h, tenant.Staging, tt.id)
			var ae *plugins.ActivationError
			require.ErrorAs(t, err, &ae)
			t.Logf("%s: %s (cause: %v)", ae.Reason, ae.Detail, ae.Err)
			require.ErrorIs(t, err, plugins.ErrActivation)
			require.Equal(t, tt.reason, ae.Reason, ae.Detail)
			require.NotEmpty(t, ae.Detail)
			require.NotContains(t, ae.Detail, secret, "a setting's value is never told")
			require.NotContains(t, ae.Error(), secret)
			require.NotContains(t, ae.Detail, "plugins-test-", "no paths of this host")
			require.Equal(t, wallet.ID, b.activeID(t, tenant.Staging), "the previous plugin stays active")
		})
	}
	require.NotContains(t, b.logs.String(), secret)

	// The previous plugin still works.
	key, err := b.reg.ActiveKey(ctx, plugins.ActiveRef{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging, PluginID: wallet.ID})
	require.NoError(t, err)
	p, err := h.Get(ctx, key)
	require.NoError(t, err)
	d, err := p.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, "wallet", d.Name)

	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM plugin_activations`).Scan(&n))
	require.Equal(t, 1, n, "failed activations record nothing")
}

func TestSetSettingsCheckedByTheActivePlugin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	h := newHost(t, b.reg)
	picky := b.upload(t, "picky", "1", plugintest.Build(t, settingsPluginPkg).Bytes)
	set := func(v string) (plugins.SettingsInfo, error) {
		return b.reg.SetSettings(ctx, h, plugins.SettingsParams{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging,
			Settings: map[string]string{"api_key": v}, ActivePluginID: b.activeID(t, tenant.Staging)})
	}
	_, err := set("letmein-123")
	require.NoError(t, err, "no active plugin yet: stored unchecked")
	_, err = b.activate(ctx, h, tenant.Staging, picky.ID)
	require.NoError(t, err)

	_, err = set("nope-SECRET-999")
	var ae *plugins.ActivationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, plugins.ReasonSettings, ae.Reason)
	require.Contains(t, ae.Detail, "[redacted]", "the plugin's message, without the value it quoted")
	require.NotContains(t, ae.Detail, "nope-SECRET-999")
	key, err := b.reg.ActiveKey(ctx, plugins.ActiveRef{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging, PluginID: picky.ID})
	require.NoError(t, err)
	require.Equal(t, "letmein-123", key.Settings["api_key"], "refused settings are not stored")
}

func TestActivateUnknownPlugin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHost(t, b.reg)
	_, err := b.activate(context.Background(), h, tenant.Staging, 999)
	require.True(t, errors.Is(err, plugins.ErrNotFound), "%v", err)
}
