package plugins_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bundle is a registry over a fresh database with one tenant, "acme".
type bundle struct {
	pool    *pgxpool.Pool
	reg     *plugins.Registry
	tenants *tenant.Service
	acme    tenant.Tenant
	logs    *bytes.Buffer
}

func setup(t *testing.T, opts ...plugins.Option) bundle {
	t.Helper()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	tenants := tenant.NewService(pool, box)
	base := []plugins.Option{plugins.WithSealer(box), plugins.WithAuditor(tenants), plugins.WithTempDir(t.TempDir()),
		plugins.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}
	reg := plugins.NewRegistry(pool, append(base, opts...)...)
	c, err := tenants.Create(context.Background(), tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	return bundle{pool: pool, reg: reg, tenants: tenants, acme: c.Tenant, logs: logs}
}

// fakeELF is bytes that pass the upload's format check; they never run.
func fakeELF(s string) []byte { return append([]byte("\x7fELF"), s...) }

func (b bundle) upload(t *testing.T, name, version string, bin []byte) plugins.Uploaded {
	t.Helper()
	up, err := b.reg.Upload(context.Background(), plugins.UploadParams{TenantID: b.acme.ID, Name: name, Version: version,
		OS: runtime.GOOS, Arch: runtime.GOARCH}, bytes.NewReader(bin))
	require.NoError(t, err)
	return up
}

func (b bundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}

func TestUploadIsIdempotentAndRefusesOtherBytes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	bin := fakeELF("one")

	first := b.upload(t, "wallet", "1.0.0", bin)
	require.True(t, first.Created)
	require.Equal(t, int64(len(bin)), first.Size)
	require.Len(t, first.SHA256, 64)
	require.Empty(t, first.ActiveIn)

	again := b.upload(t, "wallet", "1.0.0", bin)
	require.False(t, again.Created, "same bytes, name and version: the existing plugin")
	require.Equal(t, first.ID, again.ID)

	_, err := b.reg.Upload(ctx, plugins.UploadParams{TenantID: b.acme.ID, Name: "wallet", Version: "1.0.0", OS: runtime.GOOS, Arch: runtime.GOARCH},
		bytes.NewReader(fakeELF("two")))
	require.ErrorIs(t, err, plugins.ErrConflict)

	// The same bytes under another version share the blob.
	other := b.upload(t, "wallet", "1.0.1", bin)
	require.True(t, other.Created)
	require.Equal(t, first.SHA256, other.SHA256)
	require.Equal(t, 1, b.count(t, "plugin_blobs"))
	require.Equal(t, 2, b.count(t, "plugins"))

	got, err := b.reg.Blob(ctx, first.SHA256)
	require.NoError(t, err)
	require.Equal(t, bin, got)

	var audits int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'plugin.upload'`).Scan(&audits))
	require.Equal(t, 2, audits, "each new plugin audited once")
}

func TestUploadOverTheLimitStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, plugins.WithMaxSize(1024))
	p := plugins.UploadParams{TenantID: b.acme.ID, Name: "big", Version: "1", OS: runtime.GOOS, Arch: runtime.GOARCH}

	_, err := b.reg.Upload(context.Background(), p, bytes.NewReader(fakeELF(strings.Repeat("x", 1021))))
	var tooLarge *plugins.TooLargeError
	require.ErrorAs(t, err, &tooLarge)
	require.ErrorIs(t, err, plugins.ErrTooLarge)
	require.EqualValues(t, 1024, tooLarge.Limit)
	require.Zero(t, b.count(t, "plugins"))
	require.Zero(t, b.count(t, "plugin_blobs"))

	// Exactly the limit is fine.
	up := b.upload(t, "big", "1", fakeELF(strings.Repeat("x", 1020)))
	require.EqualValues(t, 1024, up.Size)
}

// endless never ends: the limit, not the reader, stops the upload.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestUploadStopsReadingAtTheLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, plugins.WithMaxSize(1<<20))
	_, err := b.reg.Upload(context.Background(), plugins.UploadParams{TenantID: b.acme.ID, Name: "inf", Version: "1",
		OS: runtime.GOOS, Arch: runtime.GOARCH}, endless{})
	require.ErrorIs(t, err, plugins.ErrTooLarge)
}

func TestUploadRefusesBadParams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := plugins.UploadParams{TenantID: b.acme.ID, Name: "wallet", Version: "1.0.0", OS: "linux", Arch: "amd64"}
	tests := []struct {
		name  string
		edit  func(p *plugins.UploadParams)
		body  []byte
		field string
	}{
		{"no name", func(p *plugins.UploadParams) { p.Name = "" }, nil, "name"},
		{"upper-case name", func(p *plugins.UploadParams) { p.Name = "Wallet" }, nil, "name"},
		{"name with slash", func(p *plugins.UploadParams) { p.Name = "../x" }, nil, "name"},
		{"long name", func(p *plugins.UploadParams) { p.Name = strings.Repeat("a", 65) }, nil, "name"},
		{"no version", func(p *plugins.UploadParams) { p.Version = "" }, nil, "version"},
		{"version with space", func(p *plugins.UploadParams) { p.Version = "1 0" }, nil, "version"},
		{"long version", func(p *plugins.UploadParams) { p.Version = strings.Repeat("1", 65) }, nil, "version"},
		{"unknown os", func(p *plugins.UploadParams) { p.OS = "plan10" }, nil, "os"},
		{"unknown arch", func(p *plugins.UploadParams) { p.Arch = "z80" }, nil, "arch"},
		{"empty body", func(*plugins.UploadParams) {}, []byte{}, "body"},
		{"not an executable", func(*plugins.UploadParams) {}, []byte("hello world"), "body"},
		{"ELF for windows", func(p *plugins.UploadParams) { p.OS = "windows" }, fakeELF("x"), "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.edit(&p)
			body := tt.body
			if body == nil {
				body = fakeELF("x")
			}
			_, err := b.reg.Upload(context.Background(), p, bytes.NewReader(body))
			var fe *plugins.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
		})
	}
	require.Zero(t, b.count(t, "plugins"))
	// Accepted formats.
	for _, tt := range []struct{ os, head string }{{"linux", "#!/bin/sh\n"}, {"darwin", "\xcf\xfa\xed\xfe"}, {"windows", "MZ"}} {
		_, err := b.reg.Upload(context.Background(), plugins.UploadParams{TenantID: b.acme.ID, Name: "fmt-" + tt.os, Version: "1",
			OS: tt.os, Arch: "amd64"}, strings.NewReader(tt.head+"rest"))
		require.NoError(t, err, tt.os)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var ids []int64
	for _, v := range []string{"1", "2", "3"} {
		ids = append(ids, b.upload(t, "p", v, fakeELF(v)).ID)
	}
	page, err := b.reg.List(ctx, b.acme.ID, 0, 2)
	require.NoError(t, err)
	require.Len(t, page.Plugins, 2)
	require.Equal(t, ids[1], page.Next)
	page, err = b.reg.List(ctx, b.acme.ID, page.Next, 2)
	require.NoError(t, err)
	require.Len(t, page.Plugins, 1)
	require.Equal(t, ids[2], page.Plugins[0].ID)
	require.Zero(t, page.Next)

	other, err := b.tenants.Create(ctx, tenant.CreateParams{PartnerCode: "rival", PartnerID: 2, Name: "Rival"})
	require.NoError(t, err)
	page, err = b.reg.List(ctx, other.Tenant.ID, 0, 10)
	require.NoError(t, err)
	require.Empty(t, page.Plugins, "another tenant sees none")
	_, err = b.reg.Get(ctx, other.Tenant.ID, ids[0])
	require.ErrorIs(t, err, plugins.ErrNotFound)
	require.ErrorIs(t, b.reg.Delete(ctx, other.Tenant.ID, ids[0]), plugins.ErrNotFound)
}

// setActive switches acme's env to a plugin directly (no start).
func (b bundle) setActive(t *testing.T, env string, id int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, b.tenants.SetActivePluginTx(ctx, tx, b.acme, env, id))
	require.NoError(t, tx.Commit(ctx))
}

func TestDeleteRefusedWhileActive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	shared := fakeELF("shared")
	one := b.upload(t, "p", "1", shared)
	two := b.upload(t, "p", "2", shared)
	three := b.upload(t, "p", "3", fakeELF("own"))
	b.setActive(t, tenant.Staging, one.ID)
	b.setActive(t, tenant.Production, one.ID)

	err := b.reg.Delete(ctx, b.acme.ID, one.ID)
	var inUse *plugins.InUseError
	require.ErrorAs(t, err, &inUse)
	require.ErrorIs(t, err, plugins.ErrInUse)
	require.Equal(t, []string{"staging", "production"}, inUse.Environments)
	got, err := b.reg.Get(ctx, b.acme.ID, one.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"staging", "production"}, got.ActiveIn)

	// A fulfilment made by it does not keep it alive: the record stays.
	_, err = b.pool.Exec(ctx, `WITH p AS (INSERT INTO payments (tenant_id, environment, reference, partner_reference, status,
		amount, currency_code, country_code, customer_id, payment_method, status_updated_at, created_date)
		VALUES ($1, 'staging', 'C-1-P', 'o-1', 'SUCCESSFUL', 1, 'NGN', 'NG', 7, 'CARD', now(), now()) RETURNING id)
		INSERT INTO fulfilments (tenant_id, environment, payment_id, kind, idempotency_key, plugin_id)
		SELECT $1, 'staging', id, 'fulfil', 'k', $2 FROM p`, b.acme.ID, one.ID)
	require.NoError(t, err)
	b.setActive(t, tenant.Staging, three.ID)
	b.setActive(t, tenant.Production, three.ID)
	require.NoError(t, b.reg.Delete(ctx, b.acme.ID, one.ID))
	_, err = b.reg.Get(ctx, b.acme.ID, one.ID)
	require.ErrorIs(t, err, plugins.ErrNotFound)
	require.Equal(t, 1, b.count(t, "fulfilments"))
	_, err = b.reg.Blob(ctx, two.SHA256)
	require.NoError(t, err, "bytes another plugin uses stay")
	require.NoError(t, b.reg.Delete(ctx, b.acme.ID, two.ID))
	_, err = b.reg.Blob(ctx, two.SHA256)
	require.ErrorIs(t, err, plugins.ErrNotFound, "the last user's deletion removes the bytes")
}

func TestSettingsSealedAndResolved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pl := b.upload(t, "p", "1", fakeELF("x"))
	b.setActive(t, tenant.Staging, pl.ID)
	ref := plugins.ActiveRef{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging, PluginID: pl.ID}

	key, err := b.reg.ActiveKey(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, host.Key{PartnerCode: "acme", TenantID: b.acme.ID, Env: "staging", SHA256: pl.SHA256, Settings: map[string]string{}}, key)

	secret := "hmac-SECRET-0123456789"
	info, err := b.reg.SetSettings(ctx, nil, plugins.SettingsParams{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging,
		Settings: map[string]string{"hmac_key": secret, "endpoint": "https://game.example.com/credit"}})
	require.NoError(t, err)
	require.Equal(t, []string{"endpoint", "hmac_key"}, info.Names)
	require.False(t, info.UpdatedAt.IsZero())

	key, err = b.reg.ActiveKey(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, secret, key.Settings["hmac_key"])
	names, err := b.reg.Settings(ctx, b.acme.ID, tenant.Production)
	require.NoError(t, err)
	require.Empty(t, names.Names, "production has its own settings")
	key, err = b.reg.ActiveKey(ctx, plugins.ActiveRef{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Production, PluginID: pl.ID})
	require.NoError(t, err)
	require.Empty(t, key.Settings)

	// At rest: sealed, and bound to its row.
	var sealed []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT sealed FROM plugin_settings WHERE environment = 'staging'`).Scan(&sealed))
	require.NotContains(t, string(sealed), secret)
	_, err = b.pool.Exec(ctx, `INSERT INTO plugin_settings (tenant_id, environment, sealed) VALUES ($1, 'production', $2)`, b.acme.ID, sealed)
	require.NoError(t, err)
	_, err = b.reg.ActiveKey(ctx, plugins.ActiveRef{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Production, PluginID: pl.ID})
	require.ErrorIs(t, err, seal.ErrOpen, "a sealed value copied to another environment does not open")

	// Names only, in the audit log and the logs.
	var details string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT details::text FROM audit_log WHERE action = 'plugin_settings.set'`).Scan(&details))
	require.Contains(t, details, "hmac_key")
	require.NotContains(t, details, secret)
	require.NotContains(t, b.logs.String(), secret)

	_, err = b.reg.ActiveKey(ctx, plugins.ActiveRef{TenantID: b.acme.ID, PartnerCode: "acme", Env: tenant.Staging})
	require.ErrorIs(t, err, plugins.ErrNoActivePlugin)
}

func TestSettingsLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	many := map[string]string{}
	for i := range plugins.MaxSettings + 1 {
		many["s"+strings.Repeat("x", i)] = "v"
	}
	huge := map[string]string{}
	for i := range 9 {
		huge["k"+strings.Repeat("x", i)] = strings.Repeat("v", plugins.MaxSettingValueLen)
	}
	tests := []struct {
		name     string
		settings map[string]string
	}{
		{"too many", many},
		{"bad name", map[string]string{"has space": "v"}},
		{"empty name", map[string]string{"": "v"}},
		{"long value", map[string]string{"k": strings.Repeat("v", plugins.MaxSettingValueLen+1)}},
		{"not UTF-8", map[string]string{"k": "\xff\xfe"}},
		{"too large in all", huge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.reg.SetSettings(context.Background(), nil, plugins.SettingsParams{TenantID: b.acme.ID, PartnerCode: "acme",
				Env: tenant.Staging, Settings: tt.settings})
			var fe *plugins.FieldError
			require.ErrorAs(t, err, &fe)
			for _, v := range tt.settings {
				if len(v) > 2 {
					require.NotContains(t, err.Error(), v, "errors never quote a value")
				}
			}
		})
	}
	_, err := b.reg.SetSettings(context.Background(), nil, plugins.SettingsParams{TenantID: b.acme.ID, Env: "qa"})
	require.ErrorIs(t, err, plugins.ErrNotFound)
	require.Zero(t, b.count(t, "plugin_settings"))

	unsealed := plugins.NewRegistry(b.pool)
	_, err = unsealed.SetSettings(context.Background(), nil, plugins.SettingsParams{TenantID: b.acme.ID, Env: tenant.Staging,
		Settings: map[string]string{"k": "v"}})
	require.ErrorIs(t, err, plugins.ErrNoSealer)
}

// reachableDir is a temporary directory an unprivileged plugin user can
// traverse (the host drops plugins to "nobody" when tests run as root).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "plugins-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func newHost(t *testing.T, src host.BlobSource) *host.Host {
	t.Helper()
	dir := reachableDir(t)
	h, err := host.New(host.Config{CacheDir: filepath.Join(dir, "cache"), WorkDir: filepath.Join(dir, "work")}, src)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
