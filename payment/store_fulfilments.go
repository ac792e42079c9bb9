package payment

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// fulfilmentRecordColumns are fulfilmentColumns of f joined with its payment p.
const fulfilmentRecordColumns = `f.id, f.tenant_id, f.environment, f.payment_id, f.kind, f.idempotency_key, f.state,
	coalesce(f.plugin_id, 0), f.attempts, f.last_error, f.result_reference, f.succeeded_at,
	p.reference, p.status, f.created_at, f.updated_at`

func scanFulfilmentRecord(row pgx.Row) (FulfilmentRecord, error) {
	var r FulfilmentRecord
	f := &r.Fulfilment
	err := row.Scan(&f.ID, &f.TenantID, &f.Env, &f.PaymentID, &f.Kind, &f.IdempotencyKey, &f.State, &f.PluginID,
		&f.Attempts, &f.LastError, &f.ResultReference, &f.SucceededAt, &r.Reference, &r.PaymentStatus, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("scan fulfilment: %w", err)
	}
	return r, nil
}

// listFulfilments returns up to limit records of f's tenant matching f with
// id < before (any when 0), newest first.
func (store) listFulfilments(ctx context.Context, q db.Querier, f FulfilmentFilter, before int64, limit int) ([]FulfilmentRecord, error) {
	where := []string{"f.tenant_id = $1"}
	args := []any{f.TenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if before > 0 {
		add("f.id < ?", before)
	}
	if f.Env != "" {
		add("f.environment = ?", f.Env)
	}
	if f.State != "" {
		add("f.state = ?", f.State)
	}
	if f.Kind != "" {
		add("f.kind = ?", f.Kind)
	}
	args = append(args, limit)
	rows, err := q.Query(ctx, `SELECT `+fulfilmentRecordColumns+` FROM fulfilments f JOIN payments p ON p.id = f.payment_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY f.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list fulfilments: %w", err)
	}
	defer rows.Close()
	var out []FulfilmentRecord
	for rows.Next() {
		r, err := scanFulfilmentRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list fulfilments: %w", err)
	}
	return out, nil
}

// lockFulfilment reads a tenant's fulfilment record under a row lock, so
// concurrent retries of it apply one at a time.
func (store) lockFulfilment(ctx context.Context, q db.Querier, tenantID, id int64) (FulfilmentRecord, error) {
	return scanFulfilmentRecord(q.QueryRow(ctx, `SELECT `+fulfilmentRecordColumns+`
		FROM fulfilments f JOIN payments p ON p.id = f.payment_id
		WHERE f.id = $1 AND f.tenant_id = $2 FOR UPDATE OF f`, id, tenantID))
}

// resetFulfilment puts a failed record back to pending; attempts and the
// last error stay as history.
func (store) resetFulfilment(ctx context.Context, q db.Querier, id int64) error {
	_, err := q.Exec(ctx, `UPDATE fulfilments SET state = 'pending', updated_at = now() WHERE id = $1 AND state = 'failed'`, id)
	if err != nil {
		return fmt.Errorf("reset fulfilment: %w", err)
	}
	return nil
}

// failedIDs returns up to limit ids of a tenant's failed records, oldest
// first, optionally of one environment and kind.
func (store) failedIDs(ctx context.Context, q db.Querier, tenantID int64, env, kind string, limit int) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT id FROM fulfilments
		WHERE tenant_id = $1 AND state = 'failed' AND ($2 = '' OR environment = $2) AND ($3 = '' OR kind = $3)
		ORDER BY id LIMIT $4`, tenantID, env, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("failed fulfilments: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("failed fulfilments: %w", err)
	}
	return ids, nil
}
