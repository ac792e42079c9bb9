package payment_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

type shopBundle struct {
	pool     *pgxpool.Pool
	payments *payment.Service
	env      tenant.Env
	bundle   tenant.Bundle
}

func setupShop(t *testing.T) shopBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	tenants := tenant.NewService(pool, box)
	tn, err := tenants.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 42, Name: "Acme"})
	require.NoError(t, err)
	env, err := tenants.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	p, err := tenants.CreateProduct(ctx, tn.ID, tenant.Staging, tenant.ProductParams{Name: "Gems",
		Countries: []string{"ZA"}, FulfilmentMethod: "plugin"})
	require.NoError(t, err)
	bd, err := tenants.CreateBundle(ctx, tn.ID, tenant.Staging, tenant.BundleParams{ProductID: p.ID, SKU: "GEM-100",
		Name: "100 Gems", Quantity: decimal.RequireFromString("100"), DigitalCurrencyName: "Gems",
		DigitalCurrencyCode: "GEM", Pay1stBundleID: 9,
		Prices: []tenant.Price{{CountryCode: "ZA", CurrencyCode: "ZAR", Amount: decimal.RequireFromString("50")}}})
	require.NoError(t, err)
	got, err := tenants.BundleByPay1stID(ctx, tn.ID, tenant.Staging, 9)
	require.NoError(t, err)
	require.Equal(t, bd.ID, got.ID)
	_, err = tenants.BundleByPay1stID(ctx, tn.ID, tenant.Production, 9)
	require.ErrorIs(t, err, tenant.ErrNotFound, "bundles are per environment")
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return shopBundle{pool: pool, payments: payment.NewService(pool, enq), env: env, bundle: bd}
}

func (b shopBundle) summary(reference string) payment.ShopSummary {
	return payment.ShopSummary{BundleID: b.bundle.ID, Summary: pay1st.Summary{
		Reference: reference, PlayerID: "player-7", ProductBundleID: 9, Amount: decimal.RequireFromString("50.00"),
		Currency: "ZAR", TokensPurchased: decimal.RequireFromString("110.5"),
		DigitalCurrency: pay1st.DigitalCurrency{Name: "Gems", Code: "GEM"}, Status: pay1st.StatusSuccessful,
		ExternalReference: "ext-1", PaymentMethod: "CARD",
	}}
}

func shopDelivery() payment.Delivery {
	return payment.Delivery{SessionID: "s", PartnerCode: "acme", Env: "staging", RemoteAddr: "127.0.0.1:1",
		Headers: map[string]string{}, Body: []byte(`{}`)}
}

func (b shopBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestIngestSummaryOncePerReference(t *testing.T) {
	t.Parallel()
	b := setupShop(t)
	ctx := context.Background()

	// Concurrent deliveries of one summary: exactly one is accepted.
	const n = 8
	results := make([]payment.IngestedSummary, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.payments.IngestSummary(ctx, b.env, shopDelivery(), b.summary("C1st-1"))
			require.NoError(t, err)
			results[i] = res
		}()
	}
	wg.Wait()
	accepted := 0
	for _, r := range results {
		if !r.Duplicate {
			accepted++
			require.True(t, r.Enqueued)
		}
		require.Equal(t, results[0].PaymentID, r.PaymentID)
	}
	require.Equal(t, 1, accepted)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_items`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries WHERE verdict = 'accepted' AND kind = 'summary'`))
	require.Equal(t, n-1, b.count(t, `SELECT count(*) FROM deliveries WHERE verdict = 'duplicate' AND kind = 'summary'`))

	p, err := b.payments.Get(ctx, results[0].PaymentID)
	require.NoError(t, err)
	require.Equal(t, string(pay1st.StatusSuccessful), p.Status)
	require.Equal(t, "50", p.Amount.String())
	require.Equal(t, "ext-1", p.PartnerReference)

	pur, err := b.payments.PurchaseOf(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "player-7", pur.PlayerID)
	require.Len(t, pur.Items, 1)
	require.Equal(t, "GEM-100", pur.Items[0].SKU)
	require.Equal(t, int64(1), pur.Items[0].Quantity)
	require.Equal(t, "110.5", pur.Items[0].DigitalAmount.Decimal.String())
	items, err := b.payments.ItemsFor(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, pur.Items, items)

	_, err = b.payments.PurchaseOf(ctx, 999999)
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestIngestSummaryRefusesGatewayReference(t *testing.T) {
	t.Parallel()
	b := setupShop(t)
	ctx := context.Background()
	ev := event("C-gw-P", pay1st.StatusPending, t0)
	_, err := b.payments.IngestEvent(ctx, b.env, shopDelivery(), ev)
	require.NoError(t, err)

	_, err = b.payments.IngestSummary(ctx, b.env, shopDelivery(), b.summary("C-gw-P"))
	require.ErrorIs(t, err, payment.ErrReferenceTaken)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'summary'`), "the caller records the refusal")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM payment_items`))

	// A gateway payment has no player and, without items, nothing listed.
	p, err := b.payments.ByReference(ctx, b.env.TenantID, "staging", "C-gw-P")
	require.NoError(t, err)
	pur, err := b.payments.PurchaseOf(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, payment.Purchase{Items: []payment.Item{}}, pur)
}
