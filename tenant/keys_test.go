package tenant_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestPrincipalRights(t *testing.T) {
	t.Parallel()
	op := tenant.Principal{KeyID: 1, Scope: tenant.ScopeOperator, Role: tenant.RoleAdmin}
	admin := tenant.Principal{KeyID: 2, Scope: tenant.ScopeTenant, TenantID: 7, Role: tenant.RoleAdmin}
	viewer := tenant.Principal{KeyID: 3, Scope: tenant.ScopeTenant, TenantID: 7, Role: tenant.RoleViewer}
	tests := []struct {
		name      string
		p         tenant.Principal
		tenantID  int64
		see, back bool
	}{
		{"operator any tenant", op, 99, true, true},
		{"admin own tenant", admin, 7, true, true},
		{"admin other tenant", admin, 8, false, false},
		{"viewer own tenant", viewer, 7, true, false},
		{"viewer other tenant", viewer, 8, false, false},
		{"nobody", tenant.Principal{}, 0, true, false}, // sees tenant 0, which does not exist
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.see, tt.p.CanSee(tt.tenantID))
			require.Equal(t, tt.back, tt.p.CanWrite(tt.tenantID))
		})
	}
	_, ok := tenant.PrincipalFrom(context.Background())
	require.False(t, ok)
	got, ok := tenant.PrincipalFrom(tenant.WithPrincipal(context.Background(), admin))
	require.True(t, ok)
	require.Equal(t, admin, got)
}

func TestPageCursor(t *testing.T) {
	t.Parallel()
	require.Equal(t, tenant.DefaultPageSize, tenant.PageLimit(0))
	require.Equal(t, tenant.DefaultPageSize, tenant.PageLimit(-3))
	require.Equal(t, 7, tenant.PageLimit(7))
	require.Equal(t, tenant.MaxPageSize, tenant.PageLimit(10_000))

	for _, id := range []int64{1, 42, 1 << 62} {
		got, err := tenant.DecodeCursor(tenant.EncodeCursor(id))
		require.NoError(t, err)
		require.Equal(t, id, got)
	}
	got, err := tenant.DecodeCursor("")
	require.NoError(t, err)
	require.Zero(t, got)
	for _, bad := range []string{"!!", "MTI=", "LTE", "YWJj", string(bytes.Repeat([]byte("A"), 100))} {
		_, err := tenant.DecodeCursor(bad)
		var fe *tenant.FieldError
		require.ErrorAs(t, err, &fe, bad)
		require.Equal(t, "query", fe.In)
		require.Equal(t, "cursor", fe.Field)
	}
}

func TestKeyParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		p     tenant.NewKeyParams
		field string
	}{
		{"operator", tenant.NewKeyParams{Scope: tenant.ScopeOperator, Name: "ops"}, ""},
		{"tenant viewer", tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: 1, Role: tenant.RoleViewer, Name: "ci"}, ""},
		{"operator viewer", tenant.NewKeyParams{Scope: tenant.ScopeOperator, Role: tenant.RoleViewer, Name: "x"}, "role"},
		{"operator with tenant", tenant.NewKeyParams{Scope: tenant.ScopeOperator, TenantID: 1, Name: "x"}, "scope"},
		{"tenant without tenant", tenant.NewKeyParams{Scope: tenant.ScopeTenant, Name: "x"}, "scope"},
		{"unknown scope", tenant.NewKeyParams{Scope: "root", Name: "x"}, "scope"},
		{"unknown role", tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: 1, Role: "owner", Name: "x"}, "role"},
		{"blank name", tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: 1, Name: "  "}, "name"},
		{"long name", tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: 1, Name: string(bytes.Repeat([]byte("n"), 101))}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
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

// opCtx is a context acting as a fresh operator key of b.
func opCtx(t *testing.T, b bundle) (context.Context, tenant.Principal) {
	t.Helper()
	ctx := context.Background()
	raw := tenant.NewKey()
	require.NoError(t, b.svc.EnsureOperatorKey(ctx, raw, "bootstrap"))
	p, err := b.svc.Authenticate(ctx, raw)
	require.NoError(t, err)
	return tenant.WithPrincipal(ctx, p), p
}

func TestKeyCreateListRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, _ := opCtx(t, b)
	acme, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	rival, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "rival", PartnerID: 2, Name: "Rival"})
	require.NoError(t, err)

	var created []tenant.CreatedKey
	for i := range 7 {
		role := tenant.RoleAdmin
		if i%2 == 1 {
			role = tenant.RoleViewer
		}
		c, err := b.svc.CreateKey(ctx, tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: acme.ID, Role: role, Name: "k"})
		require.NoError(t, err)
		require.True(t, tenant.ValidKeyFormat(c.Raw))
		require.Contains(t, c.Raw, "phk_"+c.Prefix+"_")
		require.Equal(t, role, c.Role)
		created = append(created, c)
	}
	_, err = b.svc.CreateKey(ctx, tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: rival.ID, Name: "rival's"})
	require.NoError(t, err)

	// Pages of 3 cover the 7 keys exactly once, in creation order; rival's
	// key is in none.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5, "pagination must end")
		page, err := b.svc.ListKeys(ctx, tenant.KeyFilter{Scope: tenant.ScopeTenant, TenantID: acme.ID, Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Keys), 3)
		for _, k := range page.Keys {
			require.Equal(t, acme.ID, k.TenantID)
			seen = append(seen, k.Prefix)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := make([]string, 0, len(created))
	for _, c := range created {
		want = append(want, c.Prefix)
	}
	require.Equal(t, want, seen)

	// Another tenant, or the operators, cannot revoke acme's key.
	_, err = b.svc.RevokeKey(ctx, tenant.ScopeTenant, rival.ID, created[0].Prefix)
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = b.svc.RevokeKey(ctx, tenant.ScopeOperator, 0, created[0].Prefix)
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = b.svc.RevokeKey(ctx, tenant.ScopeTenant, acme.ID, "not-a-prefix")
	require.ErrorIs(t, err, tenant.ErrNotFound)

	// Revoking works at once and is idempotent.
	_, err = b.svc.Authenticate(ctx, created[0].Raw)
	require.NoError(t, err)
	k1, err := b.svc.RevokeKey(ctx, tenant.ScopeTenant, acme.ID, created[0].Prefix)
	require.NoError(t, err)
	require.NotNil(t, k1.RevokedAt)
	_, err = b.svc.Authenticate(ctx, created[0].Raw)
	require.ErrorIs(t, err, tenant.ErrUnauthorized, "a revoked key stops working at once")
	k2, err := b.svc.RevokeKey(ctx, tenant.ScopeTenant, acme.ID, created[0].Prefix)
	require.NoError(t, err)
	require.Equal(t, k1.RevokedAt, k2.RevokedAt, "the first revocation time stays")

	entries := auditOf(t, b, acme.ID)
	revokes := 0
	for _, e := range entries {
		if e.Action == "api_key.revoke" {
			revokes++
		}
	}
	require.Equal(t, 1, revokes, "revoking twice is audited once")
}

func TestLastOperatorKeyStays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, me := opCtx(t, b)
	page, err := b.svc.ListKeys(ctx, tenant.KeyFilter{Scope: tenant.ScopeOperator})
	require.NoError(t, err)
	require.Len(t, page.Keys, 1)

	_, err = b.svc.RevokeKey(ctx, tenant.ScopeOperator, 0, page.Keys[0].Prefix)
	require.ErrorIs(t, err, tenant.ErrLastOperatorKey)

	// With two, concurrent revocations of both: exactly one passes.
	other, err := b.svc.CreateKey(ctx, tenant.NewKeyParams{Scope: tenant.ScopeOperator, Name: "second"})
	require.NoError(t, err)
	require.Equal(t, tenant.RoleAdmin, other.Role)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, prefix := range []string{page.Keys[0].Prefix, other.Prefix} {
		wg.Go(func() {
			_, errs[i] = b.svc.RevokeKey(ctx, tenant.ScopeOperator, 0, prefix)
		})
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, tenant.ErrLastOperatorKey)
			refused++
		}
	}
	require.Equal(t, 1, refused, "one operator key must stay: %v", errs)
	var live int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE scope = 'operator' AND revoked_at IS NULL`).Scan(&live))
	require.Equal(t, 1, live)
	_ = me
}

func TestKeyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acme, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `INSERT INTO api_keys (prefix, secret_hash, scope, tenant_id, name)
		SELECT 'p' || g, '\x00', 'tenant', $1, 'bulk' FROM generate_series(1, $2::int) g`, acme.ID, tenant.MaxLiveKeys)
	require.NoError(t, err)
	_, err = b.svc.CreateKey(ctx, tenant.NewKeyParams{Scope: tenant.ScopeTenant, TenantID: acme.ID, Name: "one too many"})
	require.ErrorIs(t, err, tenant.ErrKeyLimit)
}

func TestLastUsedAt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	raw := tenant.NewKey()
	require.NoError(t, b.svc.EnsureOperatorKey(ctx, raw, "ops"))
	lastUsed := func() *time.Time {
		var at *time.Time
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT last_used_at FROM api_keys`).Scan(&at))
		return at
	}
	// EnsureOperatorKey authenticates once; start from "never used".
	_, err := b.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = NULL`)
	require.NoError(t, err)

	_, err = b.svc.Authenticate(ctx, raw)
	require.NoError(t, err)
	first := lastUsed()
	require.NotNil(t, first)

	_, err = b.svc.Authenticate(ctx, raw)
	require.NoError(t, err)
	require.Equal(t, first, lastUsed(), "at most one write a minute")

	_, err = b.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() - interval '2 minutes'`)
	require.NoError(t, err)
	_, err = b.svc.Authenticate(ctx, raw)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), *lastUsed(), 5*time.Second)
}

func TestLastUsedFailureDoesNotFailAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var logs bytes.Buffer
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	svc := tenant.NewService(b.pool, box, tenant.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	raw := tenant.NewKey()
	require.NoError(t, svc.EnsureOperatorKey(ctx, raw, "ops"))
	_, err = b.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = NULL;
		CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$;
		CREATE TRIGGER refuse BEFORE UPDATE ON api_keys FOR EACH ROW EXECUTE FUNCTION refuse();`)
	require.NoError(t, err)

	p, err := svc.Authenticate(ctx, raw)
	require.NoError(t, err, "a failed last-used write does not fail the request")
	require.True(t, p.Operator())
	require.Contains(t, logs.String(), "cannot record API key use")
	require.NotContains(t, logs.String(), raw)
}

func TestRevokedBootstrapKeyIsReported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	boot, other := tenant.NewKey(), tenant.NewKey()
	require.NoError(t, b.svc.EnsureOperatorKey(ctx, boot, "bootstrap"))
	require.NoError(t, b.svc.EnsureOperatorKey(ctx, other, "second"))
	prefix := strings.Split(boot, "_")[1]
	_, err := b.svc.RevokeKey(ctx, tenant.ScopeOperator, 0, prefix)
	require.NoError(t, err)

	require.ErrorIs(t, b.svc.EnsureOperatorKey(ctx, boot, "bootstrap"), tenant.ErrKeyRevoked,
		"a restart with the revoked key in configuration is told, not refused and not revived")
	_, err = b.svc.Authenticate(ctx, boot)
	require.ErrorIs(t, err, tenant.ErrUnauthorized)
}
