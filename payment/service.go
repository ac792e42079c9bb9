package payment

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Enqueuer queues a payment's fulfilment in the caller's transaction, so the
// job exists exactly when the payment that implies it does. The jobs package
// implements it; payment never imports jobs.
type Enqueuer interface {
	EnqueueFulfilTx(ctx context.Context, tx pgx.Tx, env tenant.Env, p Payment) error
}

// Service is the payment package's entry point.
type Service struct {
	pool  *pgxpool.Pool
	enq   Enqueuer
	store store
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
	Status     string // the payment's status after the event
	Enqueued   bool   // a fulfilment was queued (River dedupes per payment)
}

// IngestEvent records a verified, validated Payment Webhook Event in one
// transaction: the delivery, the payment's new state, the event in its
// history and, for a successful payment, its fulfilment job. Nothing is
// visible until commit, so acknowledging after it never loses an event.
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
	var res Ingested
	d.TenantID, d.Env, d.Kind = env.TenantID, env.Name, KindPaymentEvent
	d.Verdict, d.Reference = VerdictAccepted, ev.Reference
	// Compare and store at the database's precision (see Precision).
	ev.UpdatedDate = ev.UpdatedDate.Truncate(Precision)
	var err error
	if res.DeliveryID, err = s.store.insertDelivery(ctx, tx, d); err != nil {
		return res, err
	}
	locked, err := s.store.upsertPayment(ctx, tx, env.TenantID, env.Name, ev)
	if err != nil {
		return res, err
	}
	res.PaymentID, res.Status = locked.id, locked.status
	// At-least-once and unordered: an event that does not supersede the
	// current status is kept in the history but changes nothing.
	applied := locked.inserted || supersedes(ev.Status, ev.UpdatedDate, pay1st.Status(locked.status), locked.statusUpdatedAt)
	// The history keeps the parsed event: the raw bytes stay in the delivery,
	// and jsonb refuses some valid JSON (\u0000) that unknown fields may carry.
	payload, err := json.Marshal(ev)
	if err != nil {
		return res, fmt.Errorf("encode event: %w", err)
	}
	fresh, err := s.store.insertEvent(ctx, tx, locked.id, env.TenantID, env.Name, res.DeliveryID, ev, applied, payload)
	if err != nil {
		return res, err
	}
	if !fresh {
		res.Duplicate = true
		return res, s.store.markDuplicate(ctx, tx, res.DeliveryID)
	}
	if !applied {
		return res, nil
	}
	if !locked.inserted {
		if err := s.store.applyStatus(ctx, tx, locked.id, ev); err != nil {
			return res, err
		}
	}
	res.Applied, res.Status = true, string(ev.Status)
	// Only the event that makes the payment SUCCESSFUL queues its fulfilment:
	// a later, unrelated event must not revive a fulfilment that was
	// rejected or ran out of attempts (retrying those is an operator's call).
	if ev.Status == pay1st.StatusSuccessful {
		p, err := s.store.payment(ctx, tx, locked.id)
		if err != nil {
			return res, err
		}
		if err := s.enq.EnqueueFulfilTx(ctx, tx, env, p); err != nil {
			return res, fmt.Errorf("enqueue fulfilment: %w", err)
		}
		res.Enqueued = true
	}
	return res, nil
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
// when it had already succeeded.
func (s *Service) SucceedTx(ctx context.Context, tx pgx.Tx, fulfilmentID int64, resultRef string) (bool, error) {
	return s.store.succeed(ctx, tx, fulfilmentID, resultRef)
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
