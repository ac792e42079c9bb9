package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
)

// store holds the SQL for deliveries, payments, events and fulfilments.
type store struct{}

// text makes s storable in a Postgres text column, which refuses NUL and
// invalid UTF-8 — both of which a hostile request can put in a path.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// sqlInsertDelivery records one request to a tenant endpoint.
const sqlInsertDelivery = `INSERT INTO deliveries
	(session_id, tenant_id, partner_code, environment, kind, remote_addr, headers, body, body_truncated, verdict, reason, status_code, reference)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`

func deliveryArgs(d Delivery) ([]any, error) {
	headers, err := json.Marshal(d.Headers)
	if err != nil {
		return nil, fmt.Errorf("encode headers: %w", err)
	}
	var tenantID, reference any
	if d.TenantID != 0 {
		tenantID = d.TenantID
	}
	if d.Reference != "" {
		reference = text(d.Reference)
	}
	body := d.Body
	if body == nil {
		body = []byte{}
	}
	return []any{d.SessionID, tenantID, text(d.PartnerCode), text(d.Env), d.Kind, text(d.RemoteAddr), headers, body, d.BodyTruncated,
		d.Verdict, text(d.Reason), d.StatusCode, reference}, nil
}

func (store) insertDelivery(ctx context.Context, q db.Querier, d Delivery) (int64, error) {
	args, err := deliveryArgs(d)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := q.QueryRow(ctx, sqlInsertDelivery, args...).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert delivery: %w", err)
	}
	return id, nil
}

// The statements below are queued on a pgx.Batch (see ingest.go): a stage
// of many events then costs one round trip. Each callback stores its
// result when the batch is read, in queue order.

// queueInsertDelivery is insertDelivery, storing the new id in *id.
func (store) queueInsertDelivery(b *pgx.Batch, d Delivery, id *int64) error {
	args, err := deliveryArgs(d)
	if err != nil {
		return err
	}
	b.Queue(sqlInsertDelivery, args...).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(id); err != nil {
			return fmt.Errorf("insert delivery: %w", err)
		}
		return nil
	})
	return nil
}

func (store) queueMarkDuplicate(b *pgx.Batch, deliveryID int64) {
	b.Queue(`UPDATE deliveries SET verdict = 'duplicate', reason = 'event already recorded' WHERE id = $1`, deliveryID).
		Exec(func(pgconn.CommandTag) error { return nil })
}

// lockedPayment is the state an ingest decides from, read under a row lock.
type lockedPayment struct {
	id              int64
	inserted        bool
	status          string
	statusUpdatedAt time.Time
	amount          decimal.Decimal // first seen: events never change it
	currency        string
	onHold          bool
}

// queueUpsertPayment inserts the payment on its first event, or locks the
// existing row so concurrent events of one payment apply one at a time,
// storing what the ingest decides from in *p.
func (store) queueUpsertPayment(b *pgx.Batch, tenantID int64, env string, ev pay1st.PaymentEvent, p *lockedPayment) {
	b.Queue(`INSERT INTO payments
		(tenant_id, environment, reference, partner_reference, status, amount, currency_code, country_code,
		 customer_id, payment_method, status_updated_at, created_date)
		VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (tenant_id, environment, reference) DO UPDATE SET reference = EXCLUDED.reference
		RETURNING id, xmax = 0, status, status_updated_at, amount::text, currency_code, on_hold`,
		tenantID, env, ev.Reference, ev.PartnerReference, string(ev.Status), ev.OrderAmount.String(), ev.CurrencyCode,
		ev.CountryCode, ev.CustomerID, ev.PaymentMethod, ev.UpdatedDate, ev.CreatedDate).
		QueryRow(func(row pgx.Row) error {
			var amount string
			if err := row.Scan(&p.id, &p.inserted, &p.status, &p.statusUpdatedAt, &amount, &p.currency, &p.onHold); err != nil {
				return fmt.Errorf("upsert payment: %w", err)
			}
			var err error
			if p.amount, err = decimal.NewFromString(amount); err != nil {
				return fmt.Errorf("payment %d amount %q: %w", p.id, amount, err)
			}
			return nil
		})
}

// queueInsertEvent records an event, flagged when flagReason is set;
// *fresh is false when the same event was recorded before.
func (store) queueInsertEvent(b *pgx.Batch, paymentID, tenantID int64, env string, deliveryID int64, ev pay1st.PaymentEvent, applied bool, flagReason string, payload []byte, fresh *bool) {
	b.Queue(`INSERT INTO payment_events
		(payment_id, tenant_id, environment, delivery_id, status, updated_date, applied, flagged, flag_reason, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $9 <> '', $9, $8)
		ON CONFLICT (payment_id, status, updated_date) DO NOTHING`,
		paymentID, tenantID, env, deliveryID, string(ev.Status), ev.UpdatedDate, applied, payload, flagReason).
		Exec(func(tag pgconn.CommandTag) error {
			*fresh = tag.RowsAffected() == 1
			return nil
		})
}

func (store) queueApplyStatus(b *pgx.Batch, paymentID int64, ev pay1st.PaymentEvent) {
	b.Queue(`UPDATE payments SET status = $2, status_updated_at = $3, payment_method = $4, updated_at = now()
		WHERE id = $1`, paymentID, string(ev.Status), ev.UpdatedDate, ev.PaymentMethod).
		Exec(func(pgconn.CommandTag) error { return nil })
}

// queueHold puts a payment on hold for review; the first reason stands.
func (store) queueHold(b *pgx.Batch, paymentID int64, reason string) {
	b.Queue(`UPDATE payments SET on_hold = true, hold_reason = $2, held_at = now(), updated_at = now()
		WHERE id = $1 AND NOT on_hold`, paymentID, text(reason)).
		Exec(func(pgconn.CommandTag) error { return nil })
}

// queuePayment reads a payment into *p.
func (store) queuePayment(b *pgx.Batch, id int64, p *Payment) {
	b.Queue(`SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id).QueryRow(func(row pgx.Row) error {
		var err error
		*p, err = scanPayment(row)
		return err
	})
}

// release clears a payment's hold.
func (store) release(ctx context.Context, q db.Querier, paymentID int64) error {
	_, err := q.Exec(ctx, `UPDATE payments SET on_hold = false, hold_reason = '', held_at = NULL, updated_at = now()
		WHERE id = $1`, paymentID)
	if err != nil {
		return fmt.Errorf("release payment hold: %w", err)
	}
	return nil
}

// lockByReference reads a payment under a row lock, ordering a release with
// concurrent events of the payment.
func (store) lockByReference(ctx context.Context, q db.Querier, tenantID int64, env, reference string) (Payment, error) {
	return scanPayment(q.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE tenant_id = $1 AND environment = $2 AND reference = $3 FOR UPDATE`, tenantID, env, text(reference)))
}

const paymentColumns = `id, tenant_id, environment, reference, partner_reference, status, amount::text, currency_code,
	country_code, customer_id, payment_method, status_updated_at, created_date, created_at, updated_at,
	on_hold, hold_reason, held_at`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	var amount string
	err := row.Scan(&p.ID, &p.TenantID, &p.Env, &p.Reference, &p.PartnerReference, &p.Status, &amount, &p.CurrencyCode,
		&p.CountryCode, &p.CustomerID, &p.PaymentMethod, &p.StatusUpdatedAt, &p.CreatedDate, &p.CreatedAt, &p.UpdatedAt,
		&p.OnHold, &p.HoldReason, &p.HeldAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("scan payment: %w", err)
	}
	if p.Amount, err = decimal.NewFromString(amount); err != nil {
		return p, fmt.Errorf("payment %d amount %q: %w", p.ID, amount, err)
	}
	return p, nil
}

func (store) payment(ctx context.Context, q db.Querier, id int64) (Payment, error) {
	return scanPayment(q.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
}

func (store) paymentByReference(ctx context.Context, q db.Querier, tenantID int64, env, reference string) (Payment, error) {
	return scanPayment(q.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE tenant_id = $1 AND environment = $2 AND reference = $3`, tenantID, env, reference))
}

const fulfilmentColumns = `id, tenant_id, environment, payment_id, kind, idempotency_key, state, coalesce(plugin_id, 0),
	attempts, last_error, result_reference, succeeded_at`

func scanFulfilment(row pgx.Row) (Fulfilment, error) {
	var f Fulfilment
	err := row.Scan(&f.ID, &f.TenantID, &f.Env, &f.PaymentID, &f.Kind, &f.IdempotencyKey, &f.State, &f.PluginID,
		&f.Attempts, &f.LastError, &f.ResultReference, &f.SucceededAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("scan fulfilment: %w", err)
	}
	return f, nil
}

// beginAttempt counts an attempt on the fulfilment of (payment, kind),
// creating its row on the first one, and opens the attempt's history row
// in the same statement. A succeeded or failed row is returned untouched:
// the first is done, the second waits for an operator.
func (st store) beginAttempt(ctx context.Context, q db.Querier, p Payment, kind, key string, pluginID int64) (Fulfilment, error) {
	f, err := scanFulfilment(q.QueryRow(ctx, `WITH f AS (INSERT INTO fulfilments
		(tenant_id, environment, payment_id, kind, idempotency_key, plugin_id, attempts)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6::bigint, 0), 1)
		ON CONFLICT (payment_id, kind) DO UPDATE SET
			attempts   = fulfilments.attempts + 1,
			plugin_id  = EXCLUDED.plugin_id,
			updated_at = now()
		WHERE fulfilments.state = 'pending'
		RETURNING *), a AS (INSERT INTO fulfilment_attempts (fulfilment_id, number, plugin_id, node)
			SELECT id, attempts, plugin_id, $7 FROM f ON CONFLICT DO NOTHING)
		SELECT `+fulfilmentColumns+` FROM f`,
		p.TenantID, p.Env, p.ID, kind, key, pluginID, node()))
	if errors.Is(err, ErrNotFound) {
		// The row exists but is settled; the WHERE skipped the update.
		return st.fulfilment(ctx, q, p.ID, kind)
	}
	return f, err
}

// succeed marks a fulfilment succeeded, and its open attempt; false if the
// record already was.
func (store) succeed(ctx context.Context, q db.Querier, id int64, resultRef string) (bool, error) {
	var n int
	err := q.QueryRow(ctx, `WITH f AS (UPDATE fulfilments SET state = 'succeeded', result_reference = $2, last_error = '',
		succeeded_at = now(), updated_at = now() WHERE id = $1 AND state <> 'succeeded' RETURNING id),
		a AS (`+closeAttemptSQL("$1", "$3", "$4")+`)
		SELECT count(*) FROM f`, id, resultRef, OutcomeSucceeded, "").Scan(&n)
	if err != nil {
		return false, fmt.Errorf("mark fulfilment succeeded: %w", err)
	}
	return n == 1, nil
}

// recordError keeps the reason of a failed attempt on the record and its
// open attempt; final marks the record failed.
func (store) recordError(ctx context.Context, q db.Querier, id int64, reason string, final bool) error {
	state := StatePending
	if final {
		state = StateFailed
	}
	_, err := q.Exec(ctx, `WITH f AS (UPDATE fulfilments SET last_error = $4, state = $2, updated_at = now()
		WHERE id = $1 AND state <> 'succeeded')
		`+closeAttemptSQL("$1", "$3", "$4"), id, state, OutcomeFailed, reason)
	if err != nil {
		return fmt.Errorf("record fulfilment error: %w", err)
	}
	return nil
}

func (store) fulfilment(ctx context.Context, q db.Querier, paymentID int64, kind string) (Fulfilment, error) {
	return scanFulfilment(q.QueryRow(ctx, `SELECT `+fulfilmentColumns+` FROM fulfilments WHERE payment_id = $1 AND kind = $2`, paymentID, kind))
}
