package tenant_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	pool *pgxpool.Pool
	svc  *tenant.Service
}

func setup(t *testing.T) bundle {
	t.Helper()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	return bundle{pool: pool, svc: tenant.NewService(pool, box)}
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	c, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme-games", PartnerID: 1042, Name: "Acme"})
	require.NoError(t, err)
	require.Equal(t, "acme-games", c.PartnerCode)
	require.Equal(t, tenant.StatusActive, c.Status)
	require.Len(t, c.StagingSigningKey, 43)

	got, err := b.svc.Get(ctx, "acme-games")
	require.NoError(t, err)
	require.Equal(t, c.Tenant, got)

	_, err = b.svc.Get(ctx, "nobody-here")
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = b.svc.Get(ctx, "../etc")
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

func TestCreateConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)

	_, err = b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 2, Name: "Other"})
	require.ErrorIs(t, err, tenant.ErrConflict)
	require.ErrorContains(t, err, "partnerCode")

	_, err = b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "other", PartnerID: 1, Name: "Other"})
	require.ErrorIs(t, err, tenant.ErrConflict)
	require.ErrorContains(t, err, "partnerId")

	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&n))
	require.Equal(t, 1, n, "a refused create leaves nothing behind")
}

func TestCreateParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params tenant.CreateParams
		field  string
	}{
		{"ok", tenant.CreateParams{PartnerCode: "ab", PartnerID: 1, Name: "x"}, ""},
		{"one char code", tenant.CreateParams{PartnerCode: "a", PartnerID: 1, Name: "x"}, "partnerCode"},
		{"upper case", tenant.CreateParams{PartnerCode: "Acme", PartnerID: 1, Name: "x"}, "partnerCode"},
		{"leading dash", tenant.CreateParams{PartnerCode: "-acme", PartnerID: 1, Name: "x"}, "partnerCode"},
		{"path traversal", tenant.CreateParams{PartnerCode: "../x", PartnerID: 1, Name: "x"}, "partnerCode"},
		{"65 chars", tenant.CreateParams{PartnerCode: "a" + string(bytes.Repeat([]byte("b"), 64)), PartnerID: 1, Name: "x"}, "partnerCode"},
		{"zero id", tenant.CreateParams{PartnerCode: "acme", PartnerID: 0, Name: "x"}, "partnerId"},
		{"negative id", tenant.CreateParams{PartnerCode: "acme", PartnerID: -4, Name: "x"}, "partnerId"},
		{"empty name", tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: ""}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.params.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *tenant.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
		})
	}
}

func TestEnvSealsSigningKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 7, Name: "Acme"})
	require.NoError(t, err)

	env, err := b.svc.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	require.Equal(t, c.StagingSigningKey, env.SigningKey)
	require.Equal(t, int64(7), env.PartnerID)
	require.Equal(t, tenant.AuthSignature, env.AuthMode)

	prod, err := b.svc.Env(ctx, "acme", tenant.Production)
	require.NoError(t, err)
	require.Empty(t, prod.SigningKey, "production has no key until one is configured")

	var stored []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT signing_key FROM environments WHERE tenant_id = $1 AND name = 'staging'`, c.ID).Scan(&stored))
	require.NotContains(t, string(stored), c.StagingSigningKey, "the key is sealed at rest")

	for _, tc := range [][2]string{{"acme", "sandbox"}, {"nobody", "staging"}, {"ACME", "staging"}} {
		_, err := b.svc.Env(ctx, tc[0], tc[1])
		require.ErrorIs(t, err, tenant.ErrNotFound, tc)
	}
}

func TestEnvFailsWithWrongSecretKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 7, Name: "Acme"})
	require.NoError(t, err)

	other, err := seal.New(bytes.Repeat([]byte{2}, 32))
	require.NoError(t, err)
	_, err = tenant.NewService(b.pool, other).Env(ctx, "acme", tenant.Staging)
	require.ErrorIs(t, err, seal.ErrOpen)
}

func TestOperatorKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := tenant.NewKey()
	require.True(t, tenant.ValidKeyFormat(key))

	_, err := b.svc.Authenticate(ctx, key)
	require.ErrorIs(t, err, tenant.ErrUnauthorized, "not registered yet")

	require.NoError(t, b.svc.EnsureOperatorKey(ctx, key, "bootstrap"))
	require.NoError(t, b.svc.EnsureOperatorKey(ctx, key, "bootstrap"), "idempotent")

	p, err := b.svc.Authenticate(ctx, key)
	require.NoError(t, err)
	require.True(t, p.Operator())
	require.True(t, p.CanSee(12345))

	// Same prefix, other secret: refused to authenticate and to register.
	forged := key[:len("phk_12345678_")] + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	_, err = b.svc.Authenticate(ctx, forged)
	require.ErrorIs(t, err, tenant.ErrUnauthorized)
	require.ErrorIs(t, b.svc.EnsureOperatorKey(ctx, forged, "x"), tenant.ErrConflict)

	for _, bad := range []string{"", "phk_", "Bearer " + key, key + " ", "phk_ABCDEFGH_" + key[13:]} {
		_, err := b.svc.Authenticate(ctx, bad)
		require.ErrorIs(t, err, tenant.ErrUnauthorized, bad)
	}

	var stored []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT secret_hash FROM api_keys`).Scan(&stored))
	want := sha256.Sum256([]byte(key))
	require.Equal(t, want[:], stored, "only the key's SHA-256 is stored")
}

func TestTenantKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)

	key, err := b.svc.CreateTenantKey(ctx, c.Tenant, tenant.RoleViewer, "ci")
	require.NoError(t, err)
	p, err := b.svc.Authenticate(ctx, key)
	require.NoError(t, err)
	require.False(t, p.Operator())
	require.Equal(t, tenant.RoleViewer, p.Role)
	require.True(t, p.CanSee(c.ID))
	require.False(t, p.CanSee(c.ID+1))

	_, err = b.svc.CreateTenantKey(ctx, c.Tenant, "owner", "x")
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "role", fe.Field)
}

func TestActivePluginMustBeTheTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acme, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	other, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "other", PartnerID: 2, Name: "Other"})
	require.NoError(t, err)
	var pluginID int64
	require.NoError(t, b.pool.QueryRow(ctx, `WITH blob AS (INSERT INTO plugin_blobs (sha256, size, data) VALUES (repeat('a', 64), 1, 'x') RETURNING sha256)
		INSERT INTO plugins (tenant_id, name, version, sha256, os, arch) SELECT $1, 'p', '1', sha256, 'linux', 'amd64' FROM blob RETURNING id`,
		other.ID).Scan(&pluginID))

	set := func(tn tenant.Tenant) error {
		return db.InTx(ctx, b.pool, func(tx pgx.Tx) error { return b.svc.SetActivePluginTx(ctx, tx, tn, tenant.Staging, pluginID) })
	}
	require.ErrorIs(t, set(acme.Tenant), tenant.ErrNotFound, "another tenant's plugin cannot be activated")
	require.NoError(t, set(other.Tenant))
	env, err := b.svc.Env(ctx, "other", tenant.Staging)
	require.NoError(t, err)
	require.Equal(t, pluginID, env.ActivePluginID)
}
