package tenant_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func ptr(s string) *string { return &s }

func TestListTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var codes []string
	for i := range 8 {
		c, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: fmt.Sprintf("studio-%d", i), PartnerID: int64(i + 1), Name: "S"})
		require.NoError(t, err)
		codes = append(codes, c.PartnerCode)
		if i%3 == 0 {
			_, err := b.svc.Suspend(ctx, c.PartnerCode)
			require.NoError(t, err)
		}
	}
	walk := func(status string) []string {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := b.svc.List(ctx, tenant.TenantFilter{Status: status, Limit: 3, Cursor: cursor})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Tenants), 3)
			for _, tn := range page.Tenants {
				if status != "" {
					require.Equal(t, status, tn.Status)
				}
				got = append(got, tn.PartnerCode)
			}
			if page.NextCursor == "" {
				return got
			}
			cursor = page.NextCursor
		}
	}
	require.Equal(t, codes, walk(""))
	require.Equal(t, []string{"studio-0", "studio-3", "studio-6"}, walk(tenant.StatusSuspended))
	require.Len(t, walk(tenant.StatusActive), 5)

	_, err := b.svc.List(ctx, tenant.TenantFilter{Status: "deleted"})
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "status", fe.Field)
}

func TestUpdateTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme",
		ContactName: "Ada", ContactEmail: "ada@acme.example"})
	require.NoError(t, err)
	require.Equal(t, "ada@acme.example", c.ContactEmail)

	got, err := b.svc.Update(ctx, "acme", tenant.UpdateParams{ContactEmail: ptr("grace@acme.example")})
	require.NoError(t, err)
	require.Equal(t, "Acme", got.Name, "absent fields stay")
	require.Equal(t, "Ada", got.ContactName)
	require.Equal(t, "grace@acme.example", got.ContactEmail)
	require.True(t, got.UpdatedAt.After(c.UpdatedAt) || got.UpdatedAt.Equal(c.UpdatedAt))

	entries := auditOf(t, b, c.ID)
	require.Equal(t, "tenant.update", entries[0].Action)
	require.Equal(t, map[string]any{"contactEmail": map[string]any{"from": "ada@acme.example", "to": "grace@acme.example"}},
		entries[0].Details["changes"])

	// Nothing changes: nothing written, nothing audited.
	_, err = b.svc.Update(ctx, "acme", tenant.UpdateParams{Name: ptr("Acme")})
	require.NoError(t, err)
	_, err = b.svc.Update(ctx, "acme", tenant.UpdateParams{})
	require.NoError(t, err)
	require.Len(t, auditOf(t, b, c.ID), 2)

	// Clearing the contact is allowed.
	got, err = b.svc.Update(ctx, "acme", tenant.UpdateParams{ContactName: ptr(""), ContactEmail: ptr("")})
	require.NoError(t, err)
	require.Empty(t, got.ContactName)
	require.Empty(t, got.ContactEmail)

	_, err = b.svc.Update(ctx, "nobody", tenant.UpdateParams{Name: ptr("x")})
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

func TestProfileValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	tests := []struct {
		name  string
		p     tenant.UpdateParams
		field string
	}{
		{"ok email", tenant.UpdateParams{ContactEmail: ptr("a.b+c@mail.studio.example")}, ""},
		{"blank name", tenant.UpdateParams{Name: ptr("   ")}, "name"},
		{"empty name", tenant.UpdateParams{Name: ptr("")}, "name"},
		{"long name", tenant.UpdateParams{Name: ptr(strings.Repeat("é", 201))}, "name"},
		{"200 runes ok", tenant.UpdateParams{Name: ptr(strings.Repeat("é", 200))}, ""},
		{"long contact", tenant.UpdateParams{ContactName: ptr(strings.Repeat("n", 201))}, "contactName"},
		{"no at", tenant.UpdateParams{ContactEmail: ptr("ada.acme.example")}, "contactEmail"},
		{"no domain dot", tenant.UpdateParams{ContactEmail: ptr("ada@localhost")}, "contactEmail"},
		{"display name", tenant.UpdateParams{ContactEmail: ptr("Ada <ada@acme.example>")}, "contactEmail"},
		{"spaces", tenant.UpdateParams{ContactEmail: ptr("ada @acme.example")}, "contactEmail"},
		{"too long", tenant.UpdateParams{ContactEmail: ptr(strings.Repeat("a", 250) + "@x.io")}, "contactEmail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.svc.Update(ctx, "acme", tt.p)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *tenant.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
		})
	}
	_, err = b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "other", PartnerID: 2, Name: "O", ContactEmail: "nope"})
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "contactEmail", fe.Field)
}

func TestSuspendResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, err := b.svc.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)

	env, err := b.svc.Env(ctx, "acme", tenant.Staging) // now cached as active
	require.NoError(t, err)
	require.Equal(t, tenant.StatusActive, env.TenantStatus)

	for range 2 {
		got, err := b.svc.Suspend(ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, tenant.StatusSuspended, got.Status)
	}
	env, err = b.svc.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	require.Equal(t, tenant.StatusSuspended, env.TenantStatus, "this node forgets its cache at once")

	for range 2 {
		got, err := b.svc.Resume(ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, tenant.StatusActive, got.Status)
	}
	env, err = b.svc.Env(ctx, "acme", tenant.Production)
	require.NoError(t, err)
	require.Equal(t, tenant.StatusActive, env.TenantStatus)

	var actions []string
	for _, e := range auditOf(t, b, c.ID) {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"tenant.resume", "tenant.suspend", "tenant.create"}, actions, "idempotent repeats audit nothing")

	_, err = b.svc.Suspend(ctx, "nobody")
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = b.svc.Resume(ctx, "../x")
	require.ErrorIs(t, err, tenant.ErrNotFound)
}
