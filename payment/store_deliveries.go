package payment

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/partnerhub/partnerhub/internal/db"
)

// listDeliveries builds its WHERE from fixed fragments; values are always
// parameters.
func (store) listDeliveries(ctx context.Context, q db.Querier, f DeliveryFilter, before int64, limit int) ([]Delivery, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.TenantID != 0 {
		add("tenant_id = ?", f.TenantID)
	}
	if f.PartnerCode != "" {
		add("partner_code = ?", text(f.PartnerCode))
	}
	if f.Env != "" {
		add("environment = ?", f.Env)
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if f.Verdict != "" {
		add("verdict = ?", f.Verdict)
	}
	if f.Reference != "" {
		add("reference = ?", text(f.Reference))
	}
	if !f.From.IsZero() {
		add("received_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("received_at < ?", f.To)
	}
	if before > 0 {
		add("id < ?", before)
	}
	sql := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	sql += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (store) delivery(ctx context.Context, q db.Querier, tenantID int64, env string, id int64) (Delivery, error) {
	return scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryColumns+`, body FROM deliveries
		WHERE id = $1 AND tenant_id = $2 AND environment = $3`, id, tenantID, env), true)
}

func (store) pruneDeliveries(ctx context.Context, q db.Querier, cutoff time.Time, batch int) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM deliveries WHERE id IN (
		SELECT id FROM deliveries WHERE received_at < $1 ORDER BY id LIMIT $2)`, cutoff, batch)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}
