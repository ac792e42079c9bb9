package payment

import (
	"context"
	"fmt"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The fulfil job's hot path: at hundreds of jobs a second on a small
// machine, Postgres's work per job — statements, round trips, transactions
// — is what bounds throughput (docs/benchmarks.md), so the common cases
// take one statement where the general API takes several.

// succeedAlone is succeed in one autocommit statement — closing the
// attempt f began by its number — unless the success may have to queue a
// report (SucceedTx): the fulfil of a payment with an order, matched by
// the one rule (orderOfPaymentSQL: tenant environment and reference), as
// insertReport matches it, so that whenever a report is due the
// transaction decides. Then it changes nothing and reports due.
func (store) succeedAlone(ctx context.Context, q db.Querier, f Fulfilment, p Payment, resultRef string) (ok, due bool, err error) {
	var n int
	err = q.QueryRow(ctx, `WITH due AS (SELECT $5::text = 'fulfil' AND
			EXISTS (SELECT 1 FROM orders WHERE tenant_id = $6 AND environment = $7 AND reference = $8) AS due),
		f AS (UPDATE fulfilments SET state = 'succeeded', result_reference = $2, last_error = '',
			succeeded_at = now(), updated_at = now()
			WHERE id = $1 AND state <> 'succeeded' AND NOT (SELECT due FROM due) RETURNING id),
		a AS (UPDATE fulfilment_attempts SET finished_at = now(), outcome = $3, reason = $4
			WHERE fulfilment_id = $1 AND number = $9 AND finished_at IS NULL AND NOT (SELECT due FROM due))
		SELECT (SELECT due FROM due), (SELECT count(*) FROM f)`,
		f.ID, resultRef, OutcomeSucceeded, "", f.Kind, p.TenantID, p.Env, p.Reference, f.Attempts).Scan(&due, &n)
	if err != nil {
		return false, false, fmt.Errorf("mark fulfilment succeeded: %w", err)
	}
	return n == 1, due, nil
}

// RecordSuccess is Succeed for the attempt f began (BeginAttempt,
// StartFulfil) at payment p: in one statement when nothing has to join the
// success's transaction — anything but the fulfil of a payment with an
// order, whose report is queued with it (SucceedTx) — and through Succeed
// otherwise. False if the record already had succeeded.
func (s *Service) RecordSuccess(ctx context.Context, f Fulfilment, p Payment, resultRef string) (bool, error) {
	ok, due, err := s.store.succeedAlone(ctx, s.pool, f, p, resultRef)
	if err != nil || !due {
		return ok, err
	}
	return s.Succeed(ctx, f.ID, resultRef)
}

// FulfilStart asks StartFulfil for a fulfil job's payment and attempt.
type FulfilStart struct {
	PaymentID int64
	TenantID  int64  // the job's tenant environment
	Env       string // its name
	Reference string // the payment's reference, as the job carries it
	Key       string // the idempotency key (IdempotencyKey)
	PluginID  int64  // the environment's active plugin, 0 for none
}

// FulfilStarted is what StartFulfil found and did.
type FulfilStarted struct {
	Payment Payment
	// Begun: an attempt was counted, as BeginAttempt does, because the
	// payment is SUCCESSFUL, not on hold, the job's tenant environment's,
	// with the job's reference, and its record pending or new. Fulfilment
	// is then the record. Otherwise nothing changed, and the caller decides
	// from Payment (a settled record: BeginAttempt returns it).
	Begun      bool
	Fulfilment Fulfilment
	// MayHavePurchase: the payment may have a player or items (Shop, or an
	// order partnerhub created), which PaymentAndPurchase gives.
	MayHavePurchase bool
}

// startFulfilSQL loads the payment and, when it is due a fulfilment,
// counts an attempt (beginAttempt's statement) — one statement where the
// general path takes two round trips. mayHavePurchase errs on the side of
// yes: Shop payments have a player, items, or both; an order is matched by
// the one rule (orderOfPaymentSQL), as PaymentAndPurchase does.
const startFulfilSQL = `WITH p AS (
		SELECT ` + paymentColumns + `, (player_id IS NOT NULL
			OR EXISTS (SELECT 1 FROM payment_items i WHERE i.payment_id = payments.id)
			OR EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = payments.tenant_id
				AND o.environment = payments.environment AND o.reference = payments.reference)) AS may_have_purchase
		FROM payments WHERE id = $3),
	due AS (SELECT id FROM p WHERE status = 'SUCCESSFUL' AND NOT on_hold
		AND tenant_id = $1 AND environment = $2 AND reference = $8),
	f AS (INSERT INTO fulfilments (tenant_id, environment, payment_id, kind, idempotency_key, plugin_id, attempts)
		SELECT $1, $2, id, $4, $5, NULLIF($6::bigint, 0), 1 FROM due
		ON CONFLICT (payment_id, kind) DO UPDATE SET
			attempts   = fulfilments.attempts + 1,
			plugin_id  = EXCLUDED.plugin_id,
			updated_at = now()
		WHERE fulfilments.state = 'pending'
		RETURNING *),
	a AS (INSERT INTO fulfilment_attempts (fulfilment_id, number, plugin_id, node)
		SELECT id, attempts, plugin_id, $7 FROM f ON CONFLICT DO NOTHING)
	SELECT p.*, f.id IS NOT NULL, coalesce(f.id, 0), coalesce(f.tenant_id, 0), coalesce(f.environment, ''),
		coalesce(f.payment_id, 0), coalesce(f.kind, ''), coalesce(f.idempotency_key, ''), coalesce(f.state, ''),
		coalesce(f.plugin_id, 0), coalesce(f.attempts, 0), coalesce(f.last_error, ''),
		coalesce(f.result_reference, ''), f.succeeded_at
	FROM p LEFT JOIN f ON true`

// StartFulfil loads a fulfil job's payment and, when it is due its
// fulfilment, counts an attempt, in one statement. ErrNotFound when there
// is no such payment.
func (s *Service) StartFulfil(ctx context.Context, req FulfilStart) (FulfilStarted, error) {
	var (
		out FulfilStarted
		f   = &out.Fulfilment
	)
	p, err := scanPayment(withExtra{s.pool.QueryRow(ctx, startFulfilSQL,
		req.TenantID, req.Env, req.PaymentID, KindFulfil, req.Key, req.PluginID, node(), req.Reference),
		[]any{&out.MayHavePurchase, &out.Begun, &f.ID, &f.TenantID, &f.Env, &f.PaymentID, &f.Kind, &f.IdempotencyKey,
			&f.State, &f.PluginID, &f.Attempts, &f.LastError, &f.ResultReference, &f.SucceededAt}})
	if err != nil {
		return FulfilStarted{}, fmt.Errorf("start fulfilment: %w", err)
	}
	out.Payment = p
	return out, nil
}
