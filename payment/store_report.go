package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// reportColumns are fulfilment_reports' columns as scanReport reads them.
const reportColumns = `id, tenant_id, environment, payment_id, reference, state, attempts, last_error, fulfilled_at, products, reported_at, created_at, updated_at`

func scanReport(row pgx.Row) (Report, error) {
	var r Report
	var products []byte
	err := row.Scan(&r.ID, &r.TenantID, &r.Env, &r.PaymentID, &r.Reference, &r.State, &r.Attempts, &r.LastError,
		&r.FulfilledAt, &products, &r.ReportedAt, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("scan fulfilment report: %w", err)
	}
	if err := json.Unmarshal(products, &r.Products); err != nil {
		return r, fmt.Errorf("decode reported products: %w", err)
	}
	return r, nil
}

// orderOfPaymentSQL is the one rule that finds a payment's (p) order (o):
// same tenant environment and Pay1st reference. An order whose create
// answer was lost learns its reference from the payment's first matching
// event, in the ingest's transaction (expectedSQL), so it is found too; a
// second payment naming the order's partnerReference is not its payment.
// insertReport, the fulfil fast path (succeedAlone, startFulfilSQL) and
// orderPurchaseSQL all match with it.
const orderOfPaymentSQL = `o.tenant_id = p.tenant_id AND o.environment = p.environment AND o.reference = p.reference`

// insertReport creates the pending report of a fulfilment that succeeded,
// when it is a fulfil of a payment with an order (orderOfPaymentSQL);
// created is false when it is not (or the report exists already). One
// statement, so a Shop payment pays one round trip for the check.
func (store) insertReport(ctx context.Context, q db.Querier, fulfilmentID int64) (Report, bool, error) {
	r, err := scanReport(q.QueryRow(ctx, `INSERT INTO fulfilment_reports (tenant_id, environment, payment_id, reference, fulfilled_at)
		SELECT p.tenant_id, p.environment, p.id, p.reference, coalesce(f.succeeded_at, now())
		FROM fulfilments f JOIN payments p ON p.id = f.payment_id
		WHERE f.id = $1 AND f.kind = 'fulfil' AND f.state = 'succeeded'
		  AND EXISTS (SELECT 1 FROM orders o WHERE `+orderOfPaymentSQL+`)
		ON CONFLICT (payment_id) DO NOTHING
		RETURNING `+reportColumns, fulfilmentID))
	if errors.Is(err, ErrNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("create fulfilment report: %w", err)
	}
	return r, true, nil
}

func (store) report(ctx context.Context, q db.Querier, paymentID int64) (Report, error) {
	return scanReport(q.QueryRow(ctx, `SELECT `+reportColumns+` FROM fulfilment_reports WHERE payment_id = $1`, paymentID))
}

// beginReportAttempt counts an attempt of a pending report; a report in
// another state is returned unchanged.
func (st store) beginReportAttempt(ctx context.Context, q db.Querier, paymentID int64) (Report, error) {
	r, err := scanReport(q.QueryRow(ctx, `UPDATE fulfilment_reports SET attempts = attempts + 1, updated_at = now()
		WHERE payment_id = $1 AND state = 'pending' RETURNING `+reportColumns, paymentID))
	if errors.Is(err, ErrNotFound) {
		return st.report(ctx, q, paymentID)
	}
	return r, err
}

// reportSucceeded marks a pending report succeeded; false when it was not
// pending.
func (store) reportSucceeded(ctx context.Context, q db.Querier, paymentID int64, products []ReportedProduct) (bool, error) {
	raw, err := json.Marshal(products)
	if err != nil {
		return false, fmt.Errorf("encode reported products: %w", err)
	}
	tag, err := q.Exec(ctx, `UPDATE fulfilment_reports SET state = 'succeeded', products = $2, last_error = '',
		reported_at = now(), updated_at = now() WHERE payment_id = $1 AND state = 'pending'`, paymentID, raw)
	if err != nil {
		return false, fmt.Errorf("mark fulfilment report succeeded: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// reportFailed keeps the reason of a failed attempt; final marks the
// report failed. A report that succeeded meanwhile is left alone.
func (store) reportFailed(ctx context.Context, q db.Querier, paymentID int64, reason string, final bool) error {
	state := StatePending
	if final {
		state = StateFailed
	}
	_, err := q.Exec(ctx, `UPDATE fulfilment_reports SET last_error = $2, state = $3, updated_at = now()
		WHERE payment_id = $1 AND state = 'pending'`, paymentID, reason, state)
	if err != nil {
		return fmt.Errorf("record fulfilment report error: %w", err)
	}
	return nil
}

// resetReport puts a failed (or pending) report back to pending, locked;
// ErrNotFound when the payment has none, ErrReportNotRetryable when it
// succeeded.
func (store) resetReport(ctx context.Context, tx pgx.Tx, tenantID int64, env, reference string) (Report, error) {
	r, err := scanReport(tx.QueryRow(ctx, `SELECT `+reportColumns+` FROM fulfilment_reports
		WHERE tenant_id = $1 AND environment = $2 AND reference = $3 FOR UPDATE`, tenantID, env, reference))
	if err != nil {
		return r, err
	}
	if r.State == StateSucceeded {
		return r, fmt.Errorf("%w: Pay1st accepted it already", ErrReportNotRetryable)
	}
	r, err = scanReport(tx.QueryRow(ctx, `UPDATE fulfilment_reports SET state = 'pending', updated_at = now()
		WHERE id = $1 RETURNING `+reportColumns, r.ID))
	if err != nil {
		return r, fmt.Errorf("reset fulfilment report: %w", err)
	}
	return r, nil
}

// stuckReports locks up to limit pending reports with id > after,
// untouched for grace, by id; rows locked by an attempt or a retry are
// skipped (they are being settled).
func (store) stuckReports(ctx context.Context, tx pgx.Tx, after int64, grace time.Duration, limit int) (ids, paymentIDs []int64, err error) {
	rows, err := tx.Query(ctx, `SELECT id, payment_id FROM fulfilment_reports
		WHERE state = 'pending' AND updated_at < now() - make_interval(secs => $2) AND id > $1
		ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`, after, grace.Seconds(), limit)
	if err != nil {
		return nil, nil, fmt.Errorf("pending fulfilment reports: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, paymentID int64
		if err := rows.Scan(&id, &paymentID); err != nil {
			return nil, nil, fmt.Errorf("pending fulfilment reports: %w", err)
		}
		ids, paymentIDs = append(ids, id), append(paymentIDs, paymentID)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("pending fulfilment reports: %w", err)
	}
	return ids, paymentIDs, nil
}

// failReports marks the pending reports ids failed with reason.
func (store) failReports(ctx context.Context, tx pgx.Tx, ids []int64, reason string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE fulfilment_reports SET state = 'failed', last_error = $2, updated_at = now()
		WHERE id = ANY($1) AND state = 'pending'`, ids, reason)
	if err != nil {
		return 0, fmt.Errorf("fail stuck fulfilment reports: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
