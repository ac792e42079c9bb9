package stagingtest_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/stagingtest"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	tests   *stagingtest.Service
	tenants *tenant.Service
	tenant  tenant.Tenant
}

// setup: tenant "acme" with a staging bundle gems-100 (NG) and no Pay1st
// credentials; a simulator that is never reached.
func setup(t *testing.T) bundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	tenants := tenant.NewService(pool, box)
	c, err := tenants.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 42, Name: "Acme"})
	require.NoError(t, err)
	prod, err := tenants.CreateProduct(ctx, c.Tenant.ID, tenant.Staging, tenant.ProductParams{
		Name: "Gems", Countries: []string{"NG"}, FulfilmentMethod: tenant.FulfilPlugin})
	require.NoError(t, err)
	_, err = tenants.CreateBundle(ctx, c.Tenant.ID, tenant.Staging, tenant.BundleParams{
		ProductID: prod.ID, SKU: "gems-100", Name: "100 Gems", Quantity: decimal.NewFromInt(100),
		DigitalCurrencyName: "Gems", DigitalCurrencyCode: "GEM",
		Prices: []tenant.Price{{CountryCode: "NG", CurrencyCode: "NGN", Amount: decimal.RequireFromString("100.50")}}})
	require.NoError(t, err)
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	s, err := sim.New(sim.Options{})
	require.NoError(t, err)
	tests := stagingtest.New(stagingtest.Config{Pool: pool, Tenants: tenants, Payments: payment.NewService(pool, enq),
		Simulator: s, Wait: 5 * time.Second})
	return bundle{tests: tests, tenants: tenants, tenant: c.Tenant}
}

func TestRequestsAreChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		env   string
		req   stagingtest.Request
		field string
	}{
		{"no bundle", tenant.Staging, stagingtest.Request{PlayerID: 1}, "sku"},
		{"both", tenant.Staging, stagingtest.Request{SKU: "gems-100", BundleID: 1, PlayerID: 1}, "sku"},
		{"bad sku", tenant.Staging, stagingtest.Request{SKU: "no spaces", PlayerID: 1}, "sku"},
		{"unknown sku", tenant.Staging, stagingtest.Request{SKU: "gems-999", PlayerID: 1}, "sku"},
		{"unknown bundle", tenant.Staging, stagingtest.Request{BundleID: 999, PlayerID: 1}, "bundleId"},
		{"no player", tenant.Staging, stagingtest.Request{SKU: "gems-100"}, "playerId"},
		{"country", tenant.Staging, stagingtest.Request{SKU: "gems-100", PlayerID: 1, CountryCode: "ng"}, "countryCode"},
		{"reference", tenant.Staging, stagingtest.Request{SKU: "gems-100", PlayerID: 1, PartnerReference: "a b"}, "partnerReference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := b.tests.Run(ctx, b.tenant, tc.env, tc.req)
			var fe *tenant.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
		})
	}
	_, _, err := b.tests.Run(ctx, b.tenant, tenant.Production, stagingtest.Request{SKU: "gems-100", PlayerID: 1})
	require.ErrorIs(t, err, stagingtest.ErrStagingOnly)
	_, _, err = b.tests.Run(ctx, b.tenant, "qa", stagingtest.Request{SKU: "gems-100", PlayerID: 1})
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

func TestMissingCredentialsFailTheFirstStep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	req := stagingtest.Request{PartnerReference: "test-1", SKU: "gems-100", PlayerID: 7}
	tx, created, err := b.tests.Run(ctx, b.tenant, tenant.Staging, req)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, stagingtest.StatusFailed, tx.Status)
	require.Equal(t, "NG", tx.CountryCode)
	require.Len(t, tx.Steps, 1)
	require.Equal(t, stagingtest.StepCredentials, tx.Steps[0].Name)
	require.Equal(t, stagingtest.ResultFailed, tx.Steps[0].Result)
	require.Contains(t, tx.Steps[0].Detail, "apiKey")

	// The same request: the stored transaction; another: a conflict.
	again, created, err := b.tests.Run(ctx, b.tenant, tenant.Staging, req)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, tx.ID, again.ID)
	require.Equal(t, tx.Steps, again.Steps)
	req.PlayerID = 8
	_, _, err = b.tests.Run(ctx, b.tenant, tenant.Staging, req)
	require.ErrorIs(t, err, tenant.ErrConflict)

	got, err := b.tests.Get(ctx, b.tenant, tenant.Staging, "test-1")
	require.NoError(t, err)
	require.Equal(t, stagingtest.StatusFailed, got.Status)
	_, err = b.tests.Get(ctx, b.tenant, tenant.Staging, "test-2")
	require.ErrorIs(t, err, tenant.ErrNotFound)

	c, err := b.tenants.Checklist(ctx, b.tenant)
	require.NoError(t, err)
	for _, st := range c.Steps {
		if st.Key == stagingtest.ChecklistStep {
			require.NotEqual(t, tenant.StepDone, st.Status, "a failure marks nothing")
		}
	}
}
