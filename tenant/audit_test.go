package tenant_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/tenant"
)

// auditOf returns every audit entry of a tenant (0: all), newest first.
func auditOf(t *testing.T, b bundle, tenantID int64) []tenant.AuditEntry {
	t.Helper()
	var all []tenant.AuditEntry
	cursor := ""
	for range 100 {
		page, err := b.svc.ListAudit(context.Background(), tenant.AuditFilter{TenantID: tenantID, Limit: tenant.MaxPageSize, Cursor: cursor})
		require.NoError(t, err)
		all = append(all, page.Entries...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
	t.Fatal("audit pagination does not end")
	return nil
}

func TestAuditActorAndSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acme, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)

	audit := func(ctx context.Context, action string, tenantID int64, details map[string]any) error {
		return db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			return b.svc.AuditTx(ctx, tx, action, tenantID, "thing:1", details)
		})
	}
	// Without a principal the actor is the system (the create above too).
	entries := auditOf(t, b, acme.ID)
	require.Len(t, entries, 1)
	require.Equal(t, "tenant.create", entries[0].Action)
	require.Equal(t, tenant.ActorSystem, entries[0].ActorScope)
	require.Zero(t, entries[0].ActorKeyID)
	require.Equal(t, "acme", entries[0].PartnerCode)
	require.Equal(t, "tenant:acme", entries[0].Target)
	require.Equal(t, json.Number("1"), entries[0].Details["partnerId"], "numbers stay exact")
	require.NotContains(t, fmtEntries(entries), acme.StagingSigningKey)

	raw, err := b.svc.CreateTenantKey(ctx, acme.Tenant, tenant.RoleAdmin, "admin")
	require.NoError(t, err)
	p, err := b.svc.Authenticate(ctx, raw)
	require.NoError(t, err)
	as := tenant.WithPrincipal(ctx, p)
	require.NoError(t, audit(as, "thing.poke", acme.ID, map[string]any{"fields": []string{"apiSecret"}, "n": 2}))
	entries = auditOf(t, b, acme.ID)
	require.Equal(t, "thing.poke", entries[0].Action)
	require.Equal(t, tenant.ScopeTenant, entries[0].ActorScope)
	require.Equal(t, p.KeyID, entries[0].ActorKeyID)
	require.Equal(t, raw[4:12], entries[0].ActorKeyPrefix)
	require.NotContains(t, fmtEntries(entries), raw, "the raw key is never audited")

	// The safety net refuses secret-looking details, at any depth.
	for _, details := range []map[string]any{
		{"password": "x"},
		{"signing_key": "x"},
		{"new": map[string]any{"apiSecret": "x"}},
		{"list": []any{map[string]any{"Token": "x"}}},
		{"note": "created " + raw},
		{"names": []string{raw}},
	} {
		require.ErrorIs(t, audit(as, "thing.poke", acme.ID, details), tenant.ErrAuditSecret, details)
	}
	for _, action := range []string{"", "poke", "Thing.Poke", "thing.poke; drop", strings.Repeat("a", 60) + ".b"} {
		require.Error(t, audit(as, action, acme.ID, nil), action)
	}
	require.Error(t, audit(as, "thing.big", acme.ID, map[string]any{"blob": strings.Repeat("x", 9<<10)}))
	require.Error(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		return b.svc.AuditTx(ctx, tx, "thing.poke", acme.ID, strings.Repeat("t", 201), nil)
	}))
	require.Len(t, auditOf(t, b, acme.ID), 3, "refused entries wrote nothing (create, key, poke)")
}

func TestAuditRolledBackWithItsWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	// A refused create (duplicate) leaves no entry.
	_, err = b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 2, Name: "Again"})
	require.ErrorIs(t, err, tenant.ErrConflict)
	require.Len(t, auditOf(t, b, 0), 1)
}

func TestAuditPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acme, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	rival, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "rival", PartnerID: 2, Name: "Rival"})
	require.NoError(t, err)
	for i := range 10 {
		id := acme.ID
		if i%3 == 0 {
			id = rival.ID
		}
		require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			return b.svc.AuditTx(ctx, tx, "thing.poke", id, "thing", map[string]any{"i": i})
		}))
	}
	require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		return b.svc.AuditTx(ctx, tx, "thing.global", 0, "", nil)
	}))

	walk := func(tenantID int64) []int64 {
		var ids []int64
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 20)
			page, err := b.svc.ListAudit(ctx, tenant.AuditFilter{TenantID: tenantID, Limit: 3, Cursor: cursor})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Entries), 3)
			for _, e := range page.Entries {
				if tenantID != 0 {
					require.Equal(t, tenantID, e.TenantID)
				}
				ids = append(ids, e.ID)
			}
			if page.NextCursor == "" {
				return ids
			}
			cursor = page.NextCursor
		}
	}
	all := walk(0)
	require.Len(t, all, 13, "2 creates, 10 pokes, 1 global")
	for i := 1; i < len(all); i++ {
		require.Greater(t, all[i-1], all[i], "newest first, no duplicates")
	}
	require.Len(t, walk(acme.ID), 1+6)
	require.Len(t, walk(rival.ID), 1+4)

	_, err = b.svc.ListAudit(ctx, tenant.AuditFilter{Cursor: "garbage!"})
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
}

func fmtEntries(entries []tenant.AuditEntry) string {
	raw, _ := json.Marshal(entries)
	return string(raw)
}
