package payment

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// listPayments returns up to limit payments matching f with id < before
// (any when before is 0), newest first.
func (store) listPayments(ctx context.Context, q db.Querier, f ListFilter, before int64, limit int) ([]Payment, error) {
	where := []string{"tenant_id = $1", "environment = $2"}
	args := []any{f.TenantID, f.Env}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if before > 0 {
		add("id < ?", before)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("created_at < ?", f.To)
	}
	if f.Reference != "" {
		add("reference = ?", text(f.Reference))
	}
	if f.PartnerReference != "" {
		add("partner_reference = ?", text(f.PartnerReference))
	}
	if f.CustomerID != 0 {
		add("customer_id = ?", f.CustomerID)
	}
	if f.OnHold != nil {
		add("on_hold = ?", *f.OnHold)
	}
	args = append(args, limit)
	rows, err := q.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return out, nil
}

// events returns a payment's newest limit events, oldest first, and whether
// there were more.
func (store) events(ctx context.Context, q db.Querier, paymentID int64, limit int) ([]Event, bool, error) {
	rows, err := q.Query(ctx, `SELECT id, status, updated_date, applied, flagged, flag_reason, coalesce(delivery_id, 0), created_at
		FROM payment_events WHERE payment_id = $1 ORDER BY id DESC LIMIT $2`, paymentID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("payment events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.Status, &e.UpdatedDate, &e.Applied, &e.Flagged, &e.FlagReason, &e.DeliveryID, &e.ReceivedAt)
		return e, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("payment events: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	slices.Reverse(out)
	return out, more, nil
}

// deliveriesOf returns the newest limit deliveries naming a reference in a
// tenant environment, oldest first, and whether there were more.
func (store) deliveriesOf(ctx context.Context, q db.Querier, tenantID int64, env, reference string, limit int) ([]DeliveryRecord, bool, error) {
	rows, err := q.Query(ctx, `SELECT id, session_id, received_at, kind, verdict, reason, status_code
		FROM deliveries WHERE tenant_id = $1 AND environment = $2 AND reference = $3
		ORDER BY id DESC LIMIT $4`, tenantID, env, reference, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("payment deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryRecord, error) {
		var d DeliveryRecord
		err := r.Scan(&d.ID, &d.SessionID, &d.ReceivedAt, &d.Kind, &d.Verdict, &d.Reason, &d.StatusCode)
		return d, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("payment deliveries: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	slices.Reverse(out)
	return out, more, nil
}

// fulfilments returns a payment's fulfilment records: fulfil, then reverse.
func (store) fulfilments(ctx context.Context, q db.Querier, paymentID int64) ([]Fulfilment, error) {
	rows, err := q.Query(ctx, `SELECT `+fulfilmentColumns+` FROM fulfilments WHERE payment_id = $1
		ORDER BY kind = 'reverse', id`, paymentID)
	if err != nil {
		return nil, fmt.Errorf("payment fulfilments: %w", err)
	}
	defer rows.Close()
	var out []Fulfilment
	for rows.Next() {
		f, err := scanFulfilment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payment fulfilments: %w", err)
	}
	return out, nil
}
