package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"go.opentelemetry.io/otel/trace"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Enqueuer queues a payment's background work in the caller's transaction,
// so a job exists exactly when the state that implies it does. The jobs
// package implements it; payment never imports jobs.
type Enqueuer interface {
	// EnqueueFulfilTx queues the fulfilment of a SUCCESSFUL payment, once
	// per payment.
	EnqueueFulfilTx(ctx context.Context, tx pgx.Tx, env tenant.Env, p Payment) error
	// EnqueueFulfilManyTx is EnqueueFulfilTx for many payments in one
	// statement.
	EnqueueFulfilManyTx(ctx context.Context, tx pgx.Tx, jobs []FulfilJob) error
	// EnqueueReverseTx queues the reversal of a payment's fulfilment, once
	// per payment; reason is the status that caused it (REFUND, CHARGEBACK).
	EnqueueReverseTx(ctx context.Context, tx pgx.Tx, env tenant.Env, p Payment, reason string) error
	// CancelFulfilTx cancels the payment's fulfil jobs that are not running
	// (waiting, scheduled or retryable), and reports whether one is running
	// right now: its plugin call may credit, so it must be reversed.
	CancelFulfilTx(ctx context.Context, tx pgx.Tx, paymentID int64) (running bool, err error)
	// EnqueueReportTx queues the job that reports r's payment's fulfilment
	// to Pay1st (report.go); queued is false when one is still waiting or
	// running (uniqueness kept it).
	EnqueueReportTx(ctx context.Context, tx pgx.Tx, r Report) (queued bool, err error)
	// RunReportNowTx makes the payment's waiting report job (scheduled,
	// retryable or available) run at once, and says what it found.
	RunReportNowTx(ctx context.Context, tx pgx.Tx, paymentID int64) (ReportJob, error)
}

// FulfilJob is one payment's fulfilment to queue.
type FulfilJob struct {
	Env     tenant.Env
	Payment Payment
	// Trace is the span of the request that brought the payment's event:
	// a batch's jobs each continue their own request's trace.
	Trace trace.SpanContext
}

// Service is the payment package's entry point.
type Service struct {
	pool  *pgxpool.Pool
	enq   Enqueuer
	store store
	// checkout enables orders (SetCheckout); nil until then.
	checkout *Checkout
}

// NewService returns a Service over pool that queues work through enq.
func NewService(pool *pgxpool.Pool, enq Enqueuer) *Service {
	return &Service{pool: pool, enq: enq}
}

// RecordDelivery records a request that changes nothing else (a rejection).
func (s *Service) RecordDelivery(ctx context.Context, d Delivery) (int64, error) {
	return s.store.insertDelivery(ctx, s.pool, d)
}

// Ingested is what one accepted payment event did.
type Ingested struct {
	DeliveryID int64
	PaymentID  int64
	Duplicate  bool   // the same event was recorded before: nothing changed
	Applied    bool   // the event became the payment's current status
	Flagged    bool   // newer, but the transition table forbids it: recorded, not applied
	Held       bool   // this event put the payment on hold for review
	Status     string // the payment's status after the event
	Enqueued   bool   // a fulfilment was queued (River dedupes per payment)
	// Reversing is set when the event made the payment REFUND/CHARGEBACK:
	// FulfilCancelled says a fulfil job that had not started was cancelled,
	// ReverseQueued that a reversal was queued (the fulfilment had started).
	FulfilCancelled bool
	ReverseQueued   bool
}

// IngestEvent records a verified, validated Payment Webhook Event in one
// transaction: the delivery, the payment's new state, the event in its
// history and the work the transition triggers (docs/payments.md). Nothing
// is visible until commit, so acknowledging after it never loses an event.
func (s *Service) IngestEvent(ctx context.Context, env tenant.Env, d Delivery, ev pay1st.PaymentEvent) (Ingested, error) {
	var res Ingested
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.IngestEventTx(ctx, tx, env, d, ev)
		return err
	})
	return res, err
}

// IngestEventTx is IngestEvent inside the caller's transaction.
func (s *Service) IngestEventTx(ctx context.Context, tx pgx.Tx, env tenant.Env, d Delivery, ev pay1st.PaymentEvent) (Ingested, error) {
	in := []*Ingest{{Env: env, Delivery: d, Event: ev}}
	if err := s.IngestEventsTx(ctx, tx, in); err != nil {
		return Ingested{}, err
	}
	return in[0].Result, nil
}

// reverseTx handles a payment that just became REFUND or CHARGEBACK: a
// fulfil job that has not started is cancelled in this transaction (nothing
// was credited, nothing to take back); a fulfilment that started — a job
// running now, or an attempt recorded — is reversed, once, unless it failed
// for good (nothing was credited) or the payment is held.
func (s *Service) reverseTx(ctx context.Context, tx pgx.Tx, env tenant.Env, locked lockedPayment, reason pay1st.Status, res *Ingested) error {
	running, err := s.enq.CancelFulfilTx(ctx, tx, locked.id)
	if err != nil {
		return fmt.Errorf("cancel fulfilment: %w", err)
	}
	f, err := s.store.fulfilment(ctx, tx, locked.id, KindFulfil)
	started := err == nil && f.MayHaveActed()
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if !running && !started {
		res.FulfilCancelled = true
		return nil
	}
	if locked.onHold {
		return nil
	}
	p, err := s.store.payment(ctx, tx, locked.id)
	if err != nil {
		return err
	}
	if err := s.enq.EnqueueReverseTx(ctx, tx, env, p, string(reason)); err != nil {
		return fmt.Errorf("enqueue reversal: %w", err)
	}
	res.ReverseQueued = true
	return nil
}

// holdReason says why an event puts its payment on hold, or "" when it
// does not. Against the order partnerhub created for the partnerReference
// (exp, read in the ingest's stage 2): another order holds the event's
// reference; the order is another payment's (a second payment must not be
// credited with its items), or flagged; or the amount or currency differs.
// Without an order: against the payment's first event. Amounts compare as
// decimals (10 equals 10.00).
func holdReason(locked lockedPayment, ev pay1st.PaymentEvent, exp orderExpect) string {
	switch {
	case exp.takenBy != "":
		return fmt.Sprintf("payment %s claims order %s, but %s is order %s's reference", ev.Reference,
			ev.PartnerReference, ev.Reference, exp.takenBy)
	case exp.found && exp.reference != "" && exp.reference != ev.Reference:
		return fmt.Sprintf("payment %s claims order %s, which is %s", ev.Reference, ev.PartnerReference, exp.reference)
	case exp.found && exp.status == OrderFlagged:
		return fmt.Sprintf("order %s is flagged: Pay1st answered another reference than its events; review it", ev.PartnerReference)
	case exp.found:
		return mismatch("the order", exp.amount, exp.currency, ev)
	case locked.inserted:
		return ""
	}
	return mismatch("the payment's first event", locked.amount, locked.currency, ev)
}

func mismatch(what string, amount decimal.Decimal, currency string, ev pay1st.PaymentEvent) string {
	switch {
	case !ev.OrderAmount.Equal(amount):
		return fmt.Sprintf("amount %s differs from %s (%s)", ev.OrderAmount.String(), what, amount.String())
	case ev.CurrencyCode != currency:
		return fmt.Sprintf("currency %s differs from %s (%s)", ev.CurrencyCode, what, currency)
	}
	return ""
}

// Get returns a payment by id.
func (s *Service) Get(ctx context.Context, id int64) (Payment, error) {
	return s.store.payment(ctx, s.pool, id)
}

// ByReference returns a tenant environment's payment by Pay1st reference.
func (s *Service) ByReference(ctx context.Context, tenantID int64, env, reference string) (Payment, error) {
	return s.store.paymentByReference(ctx, s.pool, tenantID, env, reference)
}

// BeginAttempt counts an attempt at (payment, kind) and returns the
// fulfilment record; its State says whether the work is already done.
func (s *Service) BeginAttempt(ctx context.Context, p Payment, kind, key string, pluginID int64) (Fulfilment, error) {
	f, err := s.store.beginAttempt(ctx, s.pool, p, kind, key, pluginID)
	if err != nil {
		return f, fmt.Errorf("begin fulfilment attempt: %w", err)
	}
	return f, nil
}

// SucceedTx marks a fulfilment succeeded in the caller's transaction; false
// when it had already succeeded. A gateway payment's first success also
// queues its fulfilment report to Pay1st, in tx (report.go).
func (s *Service) SucceedTx(ctx context.Context, tx pgx.Tx, fulfilmentID int64, resultRef string) (bool, error) {
	ok, err := s.store.succeed(ctx, tx, fulfilmentID, resultRef)
	if err != nil || !ok {
		return ok, err
	}
	return true, s.queueReportTx(ctx, tx, fulfilmentID)
}

// RecordError keeps the reason of a failed attempt; final marks the
// fulfilment failed (rejected, or out of attempts).
func (s *Service) RecordError(ctx context.Context, fulfilmentID int64, reason string, final bool) error {
	return s.store.recordError(ctx, s.pool, fulfilmentID, reason, final)
}

// Fulfilment returns the fulfilment record of (payment, kind).
func (s *Service) Fulfilment(ctx context.Context, paymentID int64, kind string) (Fulfilment, error) {
	return s.store.fulfilment(ctx, s.pool, paymentID, kind)
}
