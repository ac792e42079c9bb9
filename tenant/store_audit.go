package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The SQL of the audit log.

type auditRow struct {
	keyID    int64
	scope    string
	tenantID int64
	action   string
	target   string
	details  []byte
}

func (store) insertAudit(ctx context.Context, q db.Querier, e auditRow) error {
	_, err := q.Exec(ctx, `INSERT INTO audit_log (actor_key_id, actor_scope, tenant_id, action, target, details)
		VALUES (NULLIF($1::bigint, 0), $2, NULLIF($3::bigint, 0), $4, $5, $6::jsonb)`,
		e.keyID, e.scope, e.tenantID, e.action, e.target, string(e.details))
	if err != nil {
		return fmt.Errorf("write audit entry %s: %w", e.action, err)
	}
	return nil
}

// listAudit returns entries with id < before (all when before is 0), newest
// first, of one tenant (tenantID > 0) or of all. Two query shapes, so the
// tenant's uses the (tenant_id, id DESC) index.
func (store) listAudit(ctx context.Context, q db.Querier, tenantID, before int64, limit int) ([]AuditEntry, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	where := `a.id < $1 AND $2::bigint = 0`
	if tenantID > 0 {
		where = `a.id < $1 AND a.tenant_id = $2`
	}
	rows, err := q.Query(ctx, `
		SELECT a.id, a.at, a.actor_scope, coalesce(a.actor_key_id, 0), coalesce(k.prefix, ''),
		       coalesce(a.tenant_id, 0), coalesce(t.partner_code, ''), a.action, a.target, a.details::text
		FROM audit_log a
		LEFT JOIN api_keys k ON k.id = a.actor_key_id
		LEFT JOIN tenants t ON t.id = a.tenant_id
		WHERE `+where+`
		ORDER BY a.id DESC LIMIT $3`, before, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	entries := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var details string
		if err := rows.Scan(&e.ID, &e.At, &e.ActorScope, &e.ActorKeyID, &e.ActorKeyPrefix,
			&e.TenantID, &e.PartnerCode, &e.Action, &e.Target, &details); err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		// Numbers stay exact (json.Number), never float64.
		dec := json.NewDecoder(strings.NewReader(details))
		dec.UseNumber()
		if err := dec.Decode(&e.Details); err != nil {
			return nil, fmt.Errorf("audit entry %d details: %w", e.ID, err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return entries, nil
}
