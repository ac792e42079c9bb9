package jobs_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// recordingPlugin keeps the requests it was sent and fulfils each.
type recordingPlugin struct {
	sdk.Unimplemented
	mu   sync.Mutex
	reqs map[string]sdk.FulfilRequest // by payment reference
}

func (p *recordingPlugin) Fulfil(_ context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs[req.Payment.Reference] = req
	return sdk.Fulfilled("ok-" + req.Payment.Reference), nil
}

func (p *recordingPlugin) sent(t *testing.T, reference string) sdk.FulfilRequest {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	req, ok := p.reqs[reference]
	require.True(t, ok, "plugin called for %s", reference)
	return req
}

// TestFulfilFastPathKeepsPurchaseAndReport: the fulfil job's one-statement
// start and success (payment.StartFulfil, RecordSuccess) still give the
// plugin an order's customer and items, and still create the order's
// fulfilment report with the success; a payment without an order gets
// neither.
func TestFulfilFastPathKeepsPurchaseAndReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &recordingPlugin{reqs: map[string]sdk.FulfilRequest{}}
	b := setupWith(t, options{host: func(_ jobs.PluginHost) jobs.PluginHost { return fakeHost{"acme": rec} }})
	var tenantID int64
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT id FROM tenants WHERE partner_code = 'acme'`).Scan(&tenantID))
	// The order partnerhub created for C-ORD-1-P, as the payment's event
	// describes it (else the payment would be held).
	var orderID int64
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO orders (tenant_id, environment, partner_reference, gateway,
		reference, status, country_code, currency_code, amount, customer_id, request_hash)
		VALUES ($1, 'staging', 'o-C-ORD-1-P', 'simulator', 'C-ORD-1-P', 'created', 'ZA', 'ZAR', 10, 555,
			sha256(convert_to('o-C-ORD-1-P', 'UTF8'))) RETURNING id`, tenantID).Scan(&orderID))
	_, err := b.pool.Exec(ctx, `INSERT INTO order_items (order_id, tenant_id, environment, sku, title, quantity, price,
		digital_currency_code, digital_currency_name, digital_amount)
		VALUES ($1, $2, 'staging', 'GEM-100', '100 Gems', 2, 5, 'GEM', 'Gems', 100)`, orderID, tenantID)
	require.NoError(t, err)

	ordered := b.pay(t, "acme", "C-ORD-1-P", 1)
	plain := b.pay(t, "acme", "C-PLAIN-1-P", 1)
	b.start()
	b.waitFor(t, ordered, "completed")
	b.waitFor(t, plain, "completed")

	req := rec.sent(t, "C-ORD-1-P")
	require.Equal(t, "555", req.PlayerID, "the order's customer")
	require.Len(t, req.Items, 1)
	require.Equal(t, "GEM-100", req.Items[0].SKU)
	require.EqualValues(t, 2, req.Items[0].Quantity)
	req = rec.sent(t, "C-PLAIN-1-P")
	require.Equal(t, "1", req.PlayerID, "the payment's customer")
	require.Empty(t, req.Items)

	for id, reports := range map[int64]int{ordered: 1, plain: 0} {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM fulfilment_reports WHERE payment_id = $1`, id).Scan(&n))
		require.Equal(t, reports, n, "payment %d", id)
		f, err := b.payments.Fulfilment(ctx, id, payment.KindFulfil)
		require.NoError(t, err)
		require.Equal(t, payment.StateSucceeded, f.State)
		require.Equal(t, 1, f.Attempts)
	}
}
