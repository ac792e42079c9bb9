package payment_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
)

// TestIngestEventsTxMatchesOneByOne: a pipelined batch has exactly the
// effect of the same events ingested one at a time, whatever the mix —
// several events of one payment in the batch (in and out of order),
// duplicates, refunds after success, flagged transitions, amount
// mismatches. Each seed is a random sequence; both databases must end with
// the same results, payments, history, deliveries and jobs. (Rows may be
// numbered in another order: a batch records a payment's second event in
// a later round.)
func TestIngestEventsTxMatchesOneByOne(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			evs := randomEvents(rand.New(rand.NewPCG(seed, 7)), 40)
			one, batch := setup(t), setup(t)
			storeMixOrders(t, one)
			storeMixOrders(t, batch)

			var want []payment.Ingested
			for _, ev := range evs {
				want = append(want, one.ingest(t, ev))
			}
			in := make([]*payment.Ingest, len(evs))
			for i, ev := range evs {
				in[i] = &payment.Ingest{Env: batch.env, Delivery: delivery(t, ev), Event: ev}
			}
			require.NoError(t, db.InTx(context.Background(), batch.pool, func(tx pgx.Tx) error {
				return batch.payments.IngestEventsTx(context.Background(), tx, in)
			}))
			for i := range in {
				got, exp := in[i].Result, want[i]
				// Ids differ between the databases; everything else must not.
				got.DeliveryID, got.PaymentID, exp.DeliveryID, exp.PaymentID = 0, 0, 0, 0
				require.Equal(t, exp, got, "event %d: %s %s", i, evs[i].Reference, evs[i].Status)
			}
			for _, q := range append(stateQueries, ordersStateQuery) {
				require.Equal(t, rows(t, one, q), rows(t, batch, q), q)
			}
		})
	}
}

// storeMixOrders gives randomEvents' payments orders partnerhub created:
// R-0's is unknown (its events teach it, unless their amount differs),
// R-1's knows its reference, R-2's holds R-3's reference (so R-2's events
// claim an order that is another payment's, and R-3's a reference another
// order holds); R-4 is the partner's own payment.
func storeMixOrders(t *testing.T, b bundle) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `INSERT INTO orders (tenant_id, environment, partner_reference, gateway,
		reference, status, country_code, currency_code, amount, customer_id, request_hash)
		SELECT $1, 'staging', o.p, 'pay1st', o.r, o.s, 'NG', 'NGN', 1234.56789012, 5, sha256('x')
		FROM (VALUES ('order-R-0-P', NULL, 'unknown'), ('order-R-1-P', 'R-1-P', 'created'),
			('order-R-2-P', 'R-3-P', 'created')) AS o (p, r, s)`, b.env.TenantID)
	require.NoError(t, err)
}

const ordersStateQuery = `SELECT partner_reference, status, coalesce(reference, '') FROM orders ORDER BY 1`

// randomEvents draws n events over a few payments: statuses from the
// common paths, times that go back and forth, repeats, and now and then
// another amount.
func randomEvents(r *rand.Rand, n int) []pay1st.PaymentEvent {
	statuses := []pay1st.Status{pay1st.StatusPending, pay1st.StatusSuccessful, pay1st.StatusFailed,
		pay1st.StatusRefund, pay1st.StatusChargeback, pay1st.StatusSuccessful}
	var evs []pay1st.PaymentEvent
	for range n {
		if len(evs) > 0 && r.IntN(5) == 0 {
			evs = append(evs, evs[r.IntN(len(evs))]) // Pay1st's retry
			continue
		}
		ev := event(fmt.Sprintf("R-%d-P", r.IntN(5)), statuses[r.IntN(len(statuses))], t0.Add(time.Duration(r.IntN(20))*time.Minute))
		if r.IntN(8) == 0 {
			ev.OrderAmount = decimal.RequireFromString("1.00")
		}
		evs = append(evs, ev)
	}
	return evs
}

var stateQueries = []string{
	`SELECT reference, status, status_updated_at, on_hold, hold_reason, amount::text FROM payments ORDER BY reference`,
	`SELECT p.reference, e.status, e.updated_date, e.applied, e.flagged, e.flag_reason
		FROM payment_events e JOIN payments p ON p.id = e.payment_id ORDER BY 1, 2, 3`,
	`SELECT reference, verdict, reason, status_code, count(*) FROM deliveries GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
	`SELECT kind, state, args->>'reference' FROM river_job ORDER BY args->>'reference', kind`,
}

func rows(t *testing.T, b bundle, q string) []string {
	t.Helper()
	rs, err := b.pool.Query(context.Background(), q)
	require.NoError(t, err)
	var out []string
	for rs.Next() {
		vals, err := rs.Values()
		require.NoError(t, err)
		out = append(out, fmt.Sprint(vals...))
	}
	require.NoError(t, rs.Err())
	return out
}
