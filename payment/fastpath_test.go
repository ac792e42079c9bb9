package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
)

// orderMatch says how an order names its payment (event gives payment
// reference R the partnerReference "order-R").
type orderMatch int

const (
	noOrder          orderMatch = iota
	byBoth                      // Pay1st reference R and partnerReference order-R
	byPartnerRefOnly            // partnerReference order-R; another Pay1st reference
	byReferenceOnly             // Pay1st reference R; another partnerReference
	learnt                      // partnerReference order-R, no reference: the create answer was lost
)

// withOrder stores an order for the payment reference, matched as m says.
func (b bundle) withOrder(t *testing.T, reference string, m orderMatch) {
	t.Helper()
	partnerRef, ref := "order-"+reference, reference
	switch m {
	case noOrder:
		return
	case byPartnerRefOnly:
		ref = "other-" + reference
	case byReferenceOnly:
		partnerRef = "other-" + reference
	}
	var dbRef *string // a lost create answer leaves none; the first matching event teaches it
	status := "unknown"
	if m != learnt {
		dbRef, status = &ref, "created"
	}
	_, err := b.pool.Exec(context.Background(), `INSERT INTO orders (tenant_id, environment, partner_reference, gateway,
		reference, status, country_code, currency_code, amount, customer_id, request_hash)
		VALUES ($1, 'staging', $2::text, 'simulator', $3, $4, 'NG', 'NGN', 1234.56789012, 77, sha256(convert_to($2::text, 'UTF8')))`,
		b.env.TenantID, partnerRef, dbRef, status)
	require.NoError(t, err)
}

func (b bundle) fulfilStart(reference string, paymentID int64) payment.FulfilStart {
	return payment.FulfilStart{PaymentID: paymentID, TenantID: b.env.TenantID, Env: b.env.Name, Reference: reference,
		Key: payment.IdempotencyKey("acme", "staging", reference, payment.KindFulfil)}
}

// openAttempts counts a record's attempts not finished.
func (b bundle) openAttempts(t *testing.T, fulfilmentID int64) int {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM fulfilment_attempts WHERE fulfilment_id = $1 AND finished_at IS NULL`, fulfilmentID)
}

// TestStartFulfil: one statement loads the payment and counts an attempt
// exactly when BeginAttempt would be called after the fulfil job's checks
// (SUCCESSFUL, not held, the job's tenant environment and reference, record
// not settled), with the same record; otherwise it changes nothing.
func TestStartFulfil(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	paid := func(ref string) int64 { return b.ingest(t, event(ref, pay1st.StatusSuccessful, t0)).PaymentID }

	cases := []struct {
		name    string
		prepare func(t *testing.T, ref string) payment.FulfilStart
		begun   bool
		order   bool
	}{
		{"due", func(t *testing.T, ref string) payment.FulfilStart { return b.fulfilStart(ref, paid(ref)) }, true, false},
		{"due, with an order", func(t *testing.T, ref string) payment.FulfilStart {
			b.withOrder(t, ref, byBoth)
			return b.fulfilStart(ref, paid(ref))
		}, true, true},
		// The one rule (tenant environment and reference): an order found
		// by its reference is the payment's; one naming only its
		// partnerReference is another payment's.
		{"due, with an order known by reference", func(t *testing.T, ref string) payment.FulfilStart {
			b.withOrder(t, ref, byReferenceOnly)
			res := b.ingest(t, event(ref, pay1st.StatusSuccessful, t0))
			require.True(t, res.Held, "its partnerReference is not the order's")
			return b.fulfilStart(ref, res.PaymentID)
		}, false, true},
		{"due, with an order whose reference the event taught", func(t *testing.T, ref string) payment.FulfilStart {
			b.withOrder(t, ref, learnt)
			return b.fulfilStart(ref, paid(ref))
		}, true, true},
		{"an order naming its partnerReference only", func(t *testing.T, ref string) payment.FulfilStart {
			b.withOrder(t, ref, byPartnerRefOnly)
			return b.fulfilStart(ref, b.ingest(t, event(ref, pay1st.StatusSuccessful, t0)).PaymentID)
		}, false, false},
		{"not paid", func(t *testing.T, ref string) payment.FulfilStart {
			return b.fulfilStart(ref, b.ingest(t, event(ref, pay1st.StatusPending, t0)).PaymentID)
		}, false, false},
		{"on hold", func(t *testing.T, ref string) payment.FulfilStart {
			b.ingest(t, event(ref, pay1st.StatusPending, t0))
			ev := event(ref, pay1st.StatusSuccessful, t0.Add(time.Minute))
			ev.OrderAmount = decimal.RequireFromString("1")
			res := b.ingest(t, ev)
			require.True(t, res.Held)
			return b.fulfilStart(ref, res.PaymentID)
		}, false, false},
		{"another tenant's", func(t *testing.T, ref string) payment.FulfilStart {
			s := b.fulfilStart(ref, paid(ref))
			s.TenantID++
			return s
		}, false, false},
		{"another environment's", func(t *testing.T, ref string) payment.FulfilStart {
			s := b.fulfilStart(ref, paid(ref))
			s.Env = "production"
			return s
		}, false, false},
		{"another reference", func(t *testing.T, ref string) payment.FulfilStart {
			s := b.fulfilStart(ref, paid(ref))
			s.Reference += "X"
			return s
		}, false, false},
		{"settled", func(t *testing.T, ref string) payment.FulfilStart {
			s := b.fulfilStart(ref, paid(ref))
			st, err := b.payments.StartFulfil(ctx, s)
			require.NoError(t, err)
			_, err = b.payments.Succeed(ctx, st.Fulfilment.ID, "game-1")
			require.NoError(t, err)
			return s
		}, false, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := "C-START-" + string(rune('A'+i)) + "-P"
			s := tc.prepare(t, ref)
			before, beforeErr := b.payments.Fulfilment(ctx, s.PaymentID, payment.KindFulfil)
			st, err := b.payments.StartFulfil(ctx, s)
			require.NoError(t, err)
			require.Equal(t, s.PaymentID, st.Payment.ID)
			require.Equal(t, ref, st.Payment.Reference)
			require.Equal(t, tc.begun, st.Begun)
			require.Equal(t, tc.order, st.MayHavePurchase)
			after, afterErr := b.payments.Fulfilment(ctx, s.PaymentID, payment.KindFulfil)
			if !tc.begun {
				require.Equal(t, beforeErr, afterErr, "nothing changed")
				require.Equal(t, before, after, "nothing changed")
				return
			}
			require.NoError(t, afterErr)
			require.Equal(t, after, st.Fulfilment, "the record as stored")
			require.Equal(t, payment.StatePending, after.State)
			require.Equal(t, s.Key, after.IdempotencyKey)
			require.Equal(t, 1, after.Attempts)
			require.Equal(t, 1, b.openAttempts(t, after.ID))

			// A second attempt is counted like BeginAttempt's.
			again, err := b.payments.StartFulfil(ctx, s)
			require.NoError(t, err)
			require.True(t, again.Begun)
			require.Equal(t, after.ID, again.Fulfilment.ID)
			require.Equal(t, 2, again.Fulfilment.Attempts)
			require.Equal(t, 2, b.count(t, `SELECT count(*) FROM fulfilment_attempts WHERE fulfilment_id = $1`, after.ID))
		})
	}

	t.Run("no such payment", func(t *testing.T) {
		_, err := b.payments.StartFulfil(ctx, b.fulfilStart("C-NONE-P", 1<<40))
		require.ErrorIs(t, err, payment.ErrNotFound)
	})
}

// TestRecordSuccess: RecordSuccess leaves what Succeed leaves — record,
// attempt, and for the fulfil of an order its report and report job —
// including when called again, however the order names the payment.
func TestRecordSuccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	type outcome struct {
		ok, again          bool
		state, lastOutcome string
		open, reports      int
		reportJobs         int
	}
	run := func(t *testing.T, ref string, m orderMatch, kind string,
		succeed func(context.Context, payment.Fulfilment, payment.Payment, string) (bool, error)) outcome {
		t.Helper()
		b.withOrder(t, ref, m)
		res := b.ingest(t, event(ref, pay1st.StatusSuccessful, t0))
		p, err := b.payments.Get(ctx, res.PaymentID)
		require.NoError(t, err)
		f, err := b.payments.BeginAttempt(ctx, p, kind, payment.IdempotencyKey("acme", "staging", ref, kind), 0)
		require.NoError(t, err)
		var o outcome
		o.ok, err = succeed(ctx, f, p, "game-"+ref)
		require.NoError(t, err)
		o.again, err = succeed(ctx, f, p, "game-"+ref)
		require.NoError(t, err)
		got, err := b.payments.Fulfilment(ctx, p.ID, kind)
		require.NoError(t, err)
		require.Equal(t, "game-"+ref, got.ResultReference)
		o.state = got.State
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT outcome FROM fulfilment_attempts WHERE fulfilment_id = $1
			ORDER BY number DESC LIMIT 1`, f.ID).Scan(&o.lastOutcome))
		o.open = b.openAttempts(t, f.ID)
		o.reports = b.count(t, `SELECT count(*) FROM fulfilment_reports WHERE payment_id = $1`, p.ID)
		o.reportJobs = b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'report_fulfilment'
			AND args @> jsonb_build_object('payment_id', $1::bigint)`, p.ID)
		return o
	}
	recordSuccess := b.payments.RecordSuccess
	succeed := func(ctx context.Context, f payment.Fulfilment, _ payment.Payment, res string) (bool, error) {
		return b.payments.Succeed(ctx, f.ID, res)
	}
	for i, tc := range []struct {
		name  string
		order orderMatch
		kind  string
	}{
		{"fulfil without an order", noOrder, payment.KindFulfil},
		{"fulfil of an order", byBoth, payment.KindFulfil},
		{"fulfil of a payment naming another payment's order", byPartnerRefOnly, payment.KindFulfil},
		{"fulfil of an order known by reference", byReferenceOnly, payment.KindFulfil},
		{"fulfil of an order whose reference the event taught", learnt, payment.KindFulfil},
		{"reverse of an order", byBoth, payment.KindReverse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := "C-REC-" + string(rune('A'+i))
			fast := run(t, ref+"-FAST-P", tc.order, tc.kind, recordSuccess)
			slow := run(t, ref+"-SLOW-P", tc.order, tc.kind, succeed)
			require.Equal(t, slow, fast, "RecordSuccess leaves what Succeed leaves")
			require.Equal(t, outcome{ok: true, again: false, state: payment.StateSucceeded,
				lastOutcome: payment.OutcomeSucceeded, open: 0, reports: fast.reports, reportJobs: fast.reports}, fast)
			if tc.order == byBoth {
				require.Equal(t, map[string]int{payment.KindFulfil: 1, payment.KindReverse: 0}[tc.kind], fast.reports)
			}
			if tc.order == noOrder || tc.order == byPartnerRefOnly {
				require.Zero(t, fast.reports, "not the payment's order")
			}
			if tc.order == byReferenceOnly || tc.order == learnt {
				require.Equal(t, 1, fast.reports, "the order by the one rule")
			}
		})
	}
}

// TestStartFulfilMany: one statement answers each request in its place as
// StartFulfil would alone — begun, not due, or no such payment — and
// refuses a batch naming one payment twice (two upserts of one record).
func TestStartFulfilMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	paid := func(ref string) payment.FulfilStart {
		return b.fulfilStart(ref, b.ingest(t, event(ref, pay1st.StatusSuccessful, t0)).PaymentID)
	}
	due1, due2 := paid("C-MANY-A-P"), paid("C-MANY-B-P")
	b.withOrder(t, "C-MANY-C-P", byBoth)
	withOrder := paid("C-MANY-C-P")
	notPaid := b.fulfilStart("C-MANY-D-P", b.ingest(t, event("C-MANY-D-P", pay1st.StatusPending, t0)).PaymentID)
	settled := paid("C-MANY-E-P")
	st, err := b.payments.StartFulfil(ctx, settled)
	require.NoError(t, err)
	_, err = b.payments.Succeed(ctx, st.Fulfilment.ID, "game-1")
	require.NoError(t, err)
	missing := b.fulfilStart("C-MANY-NONE-P", 1<<40)

	reqs := []payment.FulfilStart{due1, notPaid, missing, withOrder, settled, due2}
	out, found, err := b.payments.StartFulfilMany(ctx, reqs)
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, false, true, true, true}, found)
	for i, want := range []struct{ begun, purchase bool }{{true, false}, {false, false}, {}, {true, true}, {false, false}, {true, false}} {
		if !found[i] {
			continue
		}
		require.Equal(t, reqs[i].PaymentID, out[i].Payment.ID, "request %d", i)
		require.Equal(t, want.begun, out[i].Begun, "request %d", i)
		require.Equal(t, want.purchase, out[i].MayHavePurchase, "request %d", i)
		if want.begun {
			stored, err := b.payments.Fulfilment(ctx, reqs[i].PaymentID, payment.KindFulfil)
			require.NoError(t, err)
			require.Equal(t, stored, out[i].Fulfilment, "request %d: the record as stored", i)
			require.Equal(t, 1, stored.Attempts)
			require.Equal(t, 1, b.openAttempts(t, stored.ID))
		}
	}
	_, err = b.payments.Fulfilment(ctx, notPaid.PaymentID, payment.KindFulfil)
	require.ErrorIs(t, err, payment.ErrNotFound, "nothing counted for a payment not due")

	_, _, err = b.payments.StartFulfilMany(ctx, []payment.FulfilStart{due1, due1})
	require.Error(t, err)
	again, err := b.payments.Fulfilment(ctx, due1.PaymentID, payment.KindFulfil)
	require.NoError(t, err)
	require.Equal(t, 1, again.Attempts, "a refused batch counts nothing")
}

// TestRecordSuccessMany: one statement records each success in its place
// as RecordSuccess would, leaves a success that must queue a report
// (NeedsTx) untouched for Succeed, and says when a record had succeeded.
func TestRecordSuccessMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	begin := func(ref string, m orderMatch) payment.Success {
		b.withOrder(t, ref, m)
		p, err := b.payments.Get(ctx, b.ingest(t, event(ref, pay1st.StatusSuccessful, t0)).PaymentID)
		require.NoError(t, err)
		f, err := b.payments.BeginAttempt(ctx, p, payment.KindFulfil, payment.IdempotencyKey("acme", "staging", ref, payment.KindFulfil), 0)
		require.NoError(t, err)
		return payment.Success{F: f, P: p, ResultRef: "game-" + ref}
	}
	plain, order, done := begin("C-RSM-A-P", noOrder), begin("C-RSM-B-P", byBoth), begin("C-RSM-C-P", noOrder)
	_, err := b.payments.RecordSuccess(ctx, done.F, done.P, done.ResultRef)
	require.NoError(t, err)

	out, err := b.payments.RecordSuccessMany(ctx, []payment.Success{plain, order, done})
	require.NoError(t, err)
	require.Equal(t, []payment.SuccessRecorded{{Succeeded: true}, {NeedsTx: true}, {}}, out)
	for _, s := range []payment.Success{plain, done} {
		got, err := b.payments.Fulfilment(ctx, s.P.ID, payment.KindFulfil)
		require.NoError(t, err)
		require.Equal(t, payment.StateSucceeded, got.State)
		require.Equal(t, s.ResultRef, got.ResultReference)
		require.Zero(t, b.openAttempts(t, s.F.ID))
	}
	got, err := b.payments.Fulfilment(ctx, order.P.ID, payment.KindFulfil)
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, got.State, "left to Succeed, which queues the report")
	require.Equal(t, 1, b.openAttempts(t, order.F.ID))

	_, err = b.payments.RecordSuccessMany(ctx, []payment.Success{plain, plain})
	require.Error(t, err, "one record twice in a batch")
}
