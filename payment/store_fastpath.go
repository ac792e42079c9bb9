package payment

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The fulfil job's hot path: at hundreds of jobs a second on a small
// machine, Postgres's work per job — statements, round trips, transactions
// — is what bounds throughput (docs/benchmarks.md), so the common cases
// take one statement where the general API takes several. And per
// statement, Postgres's fixed work (bind, plan lookup, executor set-up of a
// plan of a dozen nodes, snapshot, commit) is more than the rows' own, so
// the statements take many jobs at once: the fulfil workers share them
// (jobs/fulfil_batch.go). Each request is decided exactly as it would be
// alone, and each statement commits on its own: what was counted or
// recorded is durable before any caller acts on it.

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

// startFulfilSQL loads each request's payment and, when it is due a
// fulfilment, counts an attempt (beginAttempt's statement). One row of
// requests per payment: the ids are distinct (two upserts of one record in
// a statement fail it). mayHavePurchase errs on the side of yes: Shop
// payments have a player, items, or both; an order is matched by the one
// rule (orderOfPaymentSQL), as PaymentAndPurchase does.
const startFulfilSQL = `WITH r AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],
		$5::text[], $6::bigint[]) AS r(r_payment, r_tenant, r_env, r_reference, r_key, r_plugin)),
	p AS (
		SELECT ` + paymentColumns + `, (player_id IS NOT NULL
			OR EXISTS (SELECT 1 FROM payment_items i WHERE i.payment_id = payments.id)
			OR EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = payments.tenant_id
				AND o.environment = payments.environment AND o.reference = payments.reference)) AS may_have_purchase
		FROM payments WHERE id IN (SELECT r_payment FROM r)),
	due AS (SELECT p.id, r.* FROM p JOIN r ON r.r_payment = p.id
		WHERE p.status = 'SUCCESSFUL' AND NOT p.on_hold
		AND p.tenant_id = r.r_tenant AND p.environment = r.r_env AND p.reference = r.r_reference),
	f AS (INSERT INTO fulfilments (tenant_id, environment, payment_id, kind, idempotency_key, plugin_id, attempts)
		SELECT r_tenant, r_env, id, $7, r_key, NULLIF(r_plugin, 0), 1 FROM due ORDER BY id
		ON CONFLICT (payment_id, kind) DO UPDATE SET
			attempts   = fulfilments.attempts + 1,
			plugin_id  = EXCLUDED.plugin_id,
			updated_at = now()
		WHERE fulfilments.state = 'pending'
		RETURNING *),
	a AS (INSERT INTO fulfilment_attempts (fulfilment_id, number, plugin_id, node)
		SELECT id, attempts, plugin_id, $8 FROM f ON CONFLICT DO NOTHING)
	SELECT p.*, f.id IS NOT NULL, coalesce(f.id, 0), coalesce(f.tenant_id, 0), coalesce(f.environment, ''),
		coalesce(f.payment_id, 0), coalesce(f.kind, ''), coalesce(f.idempotency_key, ''), coalesce(f.state, ''),
		coalesce(f.plugin_id, 0), coalesce(f.attempts, 0), coalesce(f.last_error, ''),
		coalesce(f.result_reference, ''), f.succeeded_at
	FROM p LEFT JOIN f ON f.payment_id = p.id`

// StartFulfilMany is StartFulfil for many fulfil jobs at once, in one
// statement: out[i] answers reqs[i], found[i] is false when there is no
// such payment. The payment ids must be distinct.
func (s *Service) StartFulfilMany(ctx context.Context, reqs []FulfilStart) (out []FulfilStarted, found []bool, err error) {
	ids, tenants, plugins := make([]int64, len(reqs)), make([]int64, len(reqs)), make([]int64, len(reqs))
	envs, refs, keys := make([]string, len(reqs)), make([]string, len(reqs)), make([]string, len(reqs))
	at := make(map[int64]int, len(reqs))
	for i, r := range reqs {
		if _, dup := at[r.PaymentID]; dup {
			return nil, nil, fmt.Errorf("start fulfilments: payment %d twice in one batch", r.PaymentID)
		}
		at[r.PaymentID] = i
		ids[i], tenants[i], envs[i], refs[i], keys[i], plugins[i] = r.PaymentID, r.TenantID, r.Env, r.Reference, r.Key, r.PluginID
	}
	rows, err := s.pool.Query(ctx, startFulfilSQL, ids, tenants, envs, refs, keys, plugins, KindFulfil, node())
	if err != nil {
		return nil, nil, fmt.Errorf("start fulfilments: %w", err)
	}
	defer rows.Close()
	out, found = make([]FulfilStarted, len(reqs)), make([]bool, len(reqs))
	for rows.Next() {
		var st FulfilStarted
		f := &st.Fulfilment
		p, err := scanPayment(withExtra{rows, []any{&st.MayHavePurchase, &st.Begun, &f.ID, &f.TenantID, &f.Env,
			&f.PaymentID, &f.Kind, &f.IdempotencyKey, &f.State, &f.PluginID, &f.Attempts, &f.LastError,
			&f.ResultReference, &f.SucceededAt}})
		if err != nil {
			return nil, nil, fmt.Errorf("start fulfilments: %w", err)
		}
		st.Payment = p
		if i, ok := at[p.ID]; ok {
			out[i], found[i] = st, true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("start fulfilments: %w", err)
	}
	return out, found, nil
}

// Success is one attempt's success for RecordSuccessMany: the attempt F
// began at payment P, and the plugin's reference.
type Success struct {
	F         Fulfilment
	P         Payment
	ResultRef string
}

// succeedAloneSQL is succeed for many attempts, each closed by its number
// (not by a search for the newest open one), unless the success may have
// to queue a report (SucceedTx): the fulfil of a payment with an order,
// matched by the one rule (orderOfPaymentSQL: tenant environment and
// reference) as insertReport matches it, so that whenever a report is due
// the transaction decides. Then it changes nothing and says due.
const succeedAloneSQL = `WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],
		$6::text[], $7::int[]) AS r(id, result_ref, kind, tenant_id, env, reference, number)),
	d AS (SELECT r.*, r.kind = 'fulfil' AND EXISTS (SELECT 1 FROM orders o
			WHERE o.tenant_id = r.tenant_id AND o.environment = r.env AND o.reference = r.reference) AS due FROM r),
	f AS (UPDATE fulfilments SET state = 'succeeded', result_reference = d.result_ref, last_error = '',
			succeeded_at = now(), updated_at = now()
		FROM d WHERE fulfilments.id = d.id AND NOT d.due AND fulfilments.state <> 'succeeded' RETURNING fulfilments.id),
	a AS (UPDATE fulfilment_attempts SET finished_at = now(), outcome = $8, reason = ''
		FROM d WHERE fulfilment_attempts.fulfilment_id = d.id AND fulfilment_attempts.number = d.number
			AND fulfilment_attempts.finished_at IS NULL AND NOT d.due)
	SELECT d.id, d.due, EXISTS (SELECT 1 FROM f WHERE f.id = d.id) FROM d`

// succeedAlone runs succeedAloneSQL: ok[i] (the record succeeded now) and
// due[i] answer recs[i]. The record ids must be distinct.
func (store) succeedAlone(ctx context.Context, q db.Querier, recs []Success) (ok, due []bool, err error) {
	n := len(recs)
	ids, tenants, numbers := make([]int64, n), make([]int64, n), make([]int32, n)
	refs, kinds, envs, payRefs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make(map[int64]int, n)
	for i, r := range recs {
		if _, dup := at[r.F.ID]; dup {
			return nil, nil, fmt.Errorf("mark fulfilments succeeded: record %d twice in one batch", r.F.ID)
		}
		at[r.F.ID] = i
		ids[i], refs[i], kinds[i], tenants[i], envs[i], payRefs[i], numbers[i] =
			r.F.ID, r.ResultRef, r.F.Kind, r.P.TenantID, r.P.Env, r.P.Reference, int32(r.F.Attempts)
	}
	rows, err := q.Query(ctx, succeedAloneSQL, ids, refs, kinds, tenants, envs, payRefs, numbers, OutcomeSucceeded)
	if err != nil {
		return nil, nil, fmt.Errorf("mark fulfilments succeeded: %w", err)
	}
	ok, due = make([]bool, n), make([]bool, n)
	var id int64
	var d, o bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &d, &o}, func() error {
		if i, seen := at[id]; seen {
			due[i], ok[i] = d, o
		}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("mark fulfilments succeeded: %w", err)
	}
	return ok, due, nil
}

// SuccessRecorded answers one Success of RecordSuccessMany.
type SuccessRecorded struct {
	// Succeeded: the record succeeded now (false: it had already).
	Succeeded bool
	// NeedsTx: nothing was changed, because the success must queue a
	// fulfilment report in its transaction; record it with Succeed.
	NeedsTx bool
}

// RecordSuccessMany is RecordSuccess for many attempts, in one statement,
// except what has to join a transaction (NeedsTx): out[i] answers recs[i].
// The record ids must be distinct.
func (s *Service) RecordSuccessMany(ctx context.Context, recs []Success) ([]SuccessRecorded, error) {
	ok, due, err := s.store.succeedAlone(ctx, s.pool, recs)
	if err != nil {
		return nil, err
	}
	out := make([]SuccessRecorded, len(recs))
	for i := range recs {
		out[i] = SuccessRecorded{Succeeded: ok[i], NeedsTx: due[i]}
	}
	return out, nil
}

// RecordSuccess is Succeed for the attempt f began (BeginAttempt,
// StartFulfil) at payment p: in one statement when nothing has to join the
// success's transaction — anything but the fulfil of a payment with an
// order, whose report is queued with it (SucceedTx) — and through Succeed
// otherwise. False if the record already had succeeded.
func (s *Service) RecordSuccess(ctx context.Context, f Fulfilment, p Payment, resultRef string) (bool, error) {
	out, err := s.RecordSuccessMany(ctx, []Success{{F: f, P: p, ResultRef: resultRef}})
	if err != nil {
		return false, err
	}
	if out[0].NeedsTx {
		return s.Succeed(ctx, f.ID, resultRef)
	}
	return out[0].Succeeded, nil
}

// StartFulfil loads a fulfil job's payment and, when it is due its
// fulfilment, counts an attempt, in one statement. ErrNotFound when there
// is no such payment.
func (s *Service) StartFulfil(ctx context.Context, req FulfilStart) (FulfilStarted, error) {
	out, found, err := s.StartFulfilMany(ctx, []FulfilStart{req})
	if err != nil {
		return FulfilStarted{}, err
	}
	if !found[0] {
		return FulfilStarted{}, fmt.Errorf("start fulfilment: payment %d: %w", req.PaymentID, ErrNotFound)
	}
	return out[0], nil
}
