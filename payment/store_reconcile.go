package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// settledSQL lists the statuses reconciliation no longer chases (Settled);
// payments_unsettled_idx (migration 0012) is built on the same list.
// failedSQL lists the failed phase's, chased only for failedReconcileHorizon.
const (
	settledSQL = `('SUCCESSFUL', 'REFUND', 'CHARGEBACK')`
	failedSQL  = `('FAILED', 'ABANDONED', 'CANCELLED')`
)

// sqlClaimReconcile claims up to $4 references in one go across both
// subjects. Each source is read in index order and cut by LIMIT before
// anything is joined, so its cost follows the batch, not the backlog:
//   - recheck: open checks that are due (reconcile_checks_due_idx);
//   - fresh payments: unsettled payments without a check, by age
//     (payments_unsettled_idx), failed ones only within their horizon;
//   - fresh orders: created orders without a payment or a check, by age
//     (orders_reconcile_idx).
//
// Only references Pay1st can be asked about are read: the tenant
// environment has its credentials ($5, $6) and the gateway a client ($7,
// $8). Never-checked references go first, then by due time, taking turns
// between tenants (row_number per tenant) so one tenant's backlog cannot
// fill the batch. The claim itself re-checks each row as it is now, so a
// reference a concurrent run claimed meanwhile is skipped, never asked
// twice. $1: the news cutoff (now - after), $2: the give-up cutoff, $3:
// now, $9: the failed phase's horizon cutoff, $10 the first wait (s), $11
// the longest (s), $12 how far back of the cursor order discovery looks
// again (s).
const sqlClaimReconcile = `WITH
	askable_env AS (SELECT * FROM unnest($5::bigint[], $6::text[]) AS a(tenant_id, environment)),
	askable_gw AS (SELECT * FROM unnest($7::text[], $8::text[]) AS g(environment, gateway)),
	recheck AS (
		SELECT c.tenant_id, c.environment, c.reference, c.gateway, c.next_check_at AS due_at, false AS fresh
		FROM reconcile_checks c
		WHERE c.next_check_at <= $3
			AND (c.tenant_id, c.environment) IN (SELECT tenant_id, environment FROM askable_env)
			AND (c.environment, c.gateway) IN (SELECT environment, gateway FROM askable_gw)
		ORDER BY c.next_check_at
		LIMIT $4),
	fresh_payment AS (
		SELECT p.tenant_id, p.environment, p.reference, p.updated_at AS due_at, true AS fresh
		FROM payments p
		WHERE p.status NOT IN ` + settledSQL + `
			AND p.updated_at < $1 AND p.updated_at > $2
			AND (p.status NOT IN ` + failedSQL + ` OR p.updated_at > $9)
			AND (p.tenant_id, p.environment) IN (SELECT tenant_id, environment FROM askable_env)
			AND NOT EXISTS (SELECT 1 FROM reconcile_checks c
				WHERE c.tenant_id = p.tenant_id AND c.environment = p.environment AND c.reference = p.reference)
		ORDER BY p.updated_at
		LIMIT $4),
	fresh_order AS (
		SELECT o.tenant_id, o.environment, o.reference, o.gateway, o.created_at AS due_at, true AS fresh
		FROM orders o
		WHERE o.status = 'created' AND o.reference IS NOT NULL
			AND o.created_at < $1
			AND o.created_at > greatest($2, (SELECT scanned_to FROM reconcile_cursors WHERE subject = 'order')
				- make_interval(secs => $12))
			AND (o.tenant_id, o.environment) IN (SELECT tenant_id, environment FROM askable_env)
			AND (o.environment, o.gateway) IN (SELECT environment, gateway FROM askable_gw)
			AND NOT EXISTS (SELECT 1 FROM payments p
				WHERE p.tenant_id = o.tenant_id AND p.environment = o.environment AND p.reference = o.reference)
			AND NOT EXISTS (SELECT 1 FROM reconcile_checks c
				WHERE c.tenant_id = o.tenant_id AND c.environment = o.environment AND c.reference = o.reference)
		ORDER BY o.created_at
		LIMIT $4),
	cand AS (
		SELECT * FROM recheck
		UNION ALL
		-- A payment's gateway is its order's, pay1st when there is none:
		-- looked up for the few rows left after the LIMIT.
		SELECT f.tenant_id, f.environment, f.reference, coalesce(o.gateway, 'pay1st'), f.due_at, f.fresh
		FROM fresh_payment f
		LEFT JOIN orders o ON o.tenant_id = f.tenant_id AND o.environment = f.environment AND o.reference = f.reference
		WHERE (f.environment, coalesce(o.gateway, 'pay1st')) IN (SELECT environment, gateway FROM askable_gw)
		UNION ALL
		SELECT * FROM fresh_order),
	picked AS (
		SELECT cand.*, t.partner_code,
			row_number() OVER (PARTITION BY cand.tenant_id ORDER BY cand.fresh DESC, cand.due_at) AS turn
		FROM cand JOIN tenants t ON t.id = cand.tenant_id AND t.status = 'active'
		ORDER BY turn, cand.fresh DESC, cand.due_at
		LIMIT $4),
	subject AS (
		SELECT k.*, CASE WHEN p.id IS NULL THEN 'order' ELSE 'payment' END AS subject,
			coalesce(p.status, '') AS status, p.status_updated_at
		FROM picked k
		LEFT JOIN payments p ON p.tenant_id = k.tenant_id AND p.environment = k.environment AND p.reference = k.reference),
	claimed AS (
		INSERT INTO reconcile_checks AS c (tenant_id, environment, reference, subject, gateway, checks, last_checked_at, next_check_at)
		SELECT tenant_id, environment, reference, subject, gateway, 1, $3, $3 + make_interval(secs => $10)
		FROM subject
		ON CONFLICT (tenant_id, environment, reference) DO UPDATE
			SET subject = EXCLUDED.subject, checks = c.checks + 1, last_checked_at = EXCLUDED.last_checked_at,
				next_check_at = EXCLUDED.last_checked_at
					+ make_interval(secs => least($11, $10 * power(2, least(c.checks, 30))))
			WHERE c.next_check_at <= EXCLUDED.last_checked_at
		RETURNING c.tenant_id, c.environment, c.reference, c.checks),
	-- Most orders are followed by a payment and stay 'created': scanning
	-- them all again each run would grow with traffic. The cursor keeps
	-- how far order discovery got — to the news cutoff when it saw fewer
	-- than a batch, else to its last row — never past an order it found
	-- but did not claim.
	order_cursor AS (
		INSERT INTO reconcile_cursors (subject, scanned_to)
		SELECT 'order', least(
			CASE WHEN (SELECT count(*) FROM fresh_order) < $4 THEN $1 ELSE (SELECT max(due_at) FROM fresh_order) END,
			(SELECT min(f.due_at) FROM fresh_order f
				WHERE NOT EXISTS (SELECT 1 FROM claimed c
					WHERE c.tenant_id = f.tenant_id AND c.environment = f.environment AND c.reference = f.reference))
				- interval '1 microsecond')
		ON CONFLICT (subject) DO UPDATE SET scanned_to = EXCLUDED.scanned_to)
	SELECT s.tenant_id, s.partner_code, s.environment, s.reference, s.subject, s.gateway,
		s.status, s.status_updated_at, claimed.checks
	FROM subject s JOIN claimed USING (tenant_id, environment, reference)
	ORDER BY s.turn, s.fresh DESC, s.due_at`

// arrays are a's lists as the column arrays the SQL unnests.
func (a Askable) arrays() (tenantIDs []int64, envs, gatewayEnvs, gateways []string) {
	tenantIDs, envs = make([]int64, 0, len(a.Envs)), make([]string, 0, len(a.Envs))
	for _, e := range a.Envs {
		tenantIDs, envs = append(tenantIDs, e.TenantID), append(envs, e.Env)
	}
	gatewayEnvs, gateways = make([]string, 0, len(a.Gateways)), make([]string, 0, len(a.Gateways))
	for _, g := range a.Gateways {
		gatewayEnvs, gateways = append(gatewayEnvs, g.Env), append(gateways, g.Gateway)
	}
	return tenantIDs, envs, gatewayEnvs, gateways
}

// orderRescan: order discovery looks again this far back of its cursor,
// for orders that became 'created' late (a retried create-order).
const orderRescan = time.Hour

func (store) claimReconcile(ctx context.Context, q db.Querier, p ReconcileParams) ([]ReconcileItem, error) {
	tenantIDs, names, genv, ggw := p.Askable.arrays()
	rows, err := q.Query(ctx, sqlClaimReconcile,
		p.Now.Add(-p.After), p.Now.Add(-p.GiveUpAfter), p.Now, p.Limit,
		tenantIDs, names, genv, ggw, p.Now.Add(-p.failedHorizon()),
		p.After.Seconds(), maxReconcileBackoff.Seconds(), orderRescan.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim references to reconcile: %w", err)
	}
	defer rows.Close()
	var out []ReconcileItem
	for rows.Next() {
		var it ReconcileItem
		var updated *time.Time
		if err := rows.Scan(&it.TenantID, &it.PartnerCode, &it.Env, &it.Reference, &it.Subject, &it.Gateway,
			&it.Status, &updated, &it.Checks); err != nil {
			return nil, fmt.Errorf("claim references to reconcile: %w", err)
		}
		if updated != nil {
			it.StatusUpdatedAt = *updated
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim references to reconcile: %w", err)
	}
	return out, nil
}

// noteReconcile keeps the outcome of a query: Pay1st's status, or why it
// failed (status "" keeps the last known one).
func (store) noteReconcile(ctx context.Context, q db.Querier, it ReconcileItem, subject, status, errText string) error {
	_, err := q.Exec(ctx, `UPDATE reconcile_checks
		SET subject = $4, last_status = CASE WHEN $5 = '' THEN last_status ELSE $5 END, last_error = $6
		WHERE tenant_id = $1 AND environment = $2 AND reference = $3`,
		it.TenantID, it.Env, it.Reference, subject, status, text(errText))
	if err != nil {
		return fmt.Errorf("note reconciliation of %s: %w", it.Reference, err)
	}
	return nil
}

func (store) dropReconcile(ctx context.Context, q db.Querier, it ReconcileItem) error {
	_, err := q.Exec(ctx, `DELETE FROM reconcile_checks WHERE tenant_id = $1 AND environment = $2 AND reference = $3`,
		it.TenantID, it.Env, it.Reference)
	if err != nil {
		return fmt.Errorf("drop reconciliation of %s: %w", it.Reference, err)
	}
	return nil
}

// dropSettledReconcile forgets the references whose payment settled since
// they were last asked about (a webhook arrived after all).
func (store) dropSettledReconcile(ctx context.Context, q db.Querier) error {
	_, err := q.Exec(ctx, `DELETE FROM reconcile_checks c USING payments p
		WHERE p.tenant_id = c.tenant_id AND p.environment = c.environment AND p.reference = c.reference
			AND p.status IN `+settledSQL)
	if err != nil {
		return fmt.Errorf("drop settled reconciliations: %w", err)
	}
	return nil
}

// dropFailedReconcile quietly forgets the checks of payments in the failed
// phase that had no news since $1 (their horizon): a failed try is the
// common end of a purchase, not something to announce.
func (store) dropFailedReconcile(ctx context.Context, q db.Querier, cutoff time.Time) error {
	_, err := q.Exec(ctx, `DELETE FROM reconcile_checks c USING payments p
		WHERE p.tenant_id = c.tenant_id AND p.environment = c.environment AND p.reference = c.reference
			AND p.status IN `+failedSQL+` AND p.updated_at <= $1`, cutoff)
	if err != nil {
		return fmt.Errorf("drop failed reconciliations: %w", err)
	}
	return nil
}

// giveUpReconcile deletes, and returns, the checks whose payment had no
// news since $1, or whose order was created before $1 and has no payment.
// The payment is past the give-up cutoff, so it is not claimed again
// unless news (a webhook) moves its updated_at. Checks that cannot be
// asked about now (p.Askable) are left: giving up on them would blame
// Pay1st for what was never asked.
func (store) giveUpReconcile(ctx context.Context, q db.Querier, p ReconcileParams) ([]GaveUp, error) {
	cutoff := p.Now.Add(-p.GiveUpAfter)
	tenantIDs, names, genv, ggw := p.Askable.arrays()
	const askable = ` AND (c.tenant_id, c.environment) IN (SELECT * FROM unnest($2::bigint[], $3::text[]))
			AND (c.environment, c.gateway) IN (SELECT * FROM unnest($4::text[], $5::text[]))`
	var out []GaveUp
	for _, sql := range []string{
		`DELETE FROM reconcile_checks c
		USING payments p JOIN tenants t ON t.id = p.tenant_id
		WHERE p.tenant_id = c.tenant_id AND p.environment = c.environment AND p.reference = c.reference
			AND p.status NOT IN ` + settledSQL + ` AND p.status NOT IN ` + failedSQL + ` AND p.updated_at <= $1` + askable + `
		RETURNING c.tenant_id, t.partner_code, c.environment, c.reference, 'payment'::text, p.status, c.checks, c.last_error`,
		`DELETE FROM reconcile_checks c
		USING orders o JOIN tenants t ON t.id = o.tenant_id
		WHERE c.subject = 'order'
			AND o.tenant_id = c.tenant_id AND o.environment = c.environment AND o.reference = c.reference
			AND o.created_at <= $1
			AND NOT EXISTS (SELECT 1 FROM payments p
				WHERE p.tenant_id = o.tenant_id AND p.environment = o.environment AND p.reference = o.reference)` + askable + `
		RETURNING c.tenant_id, t.partner_code, c.environment, c.reference, 'order'::text, ''::text, c.checks, c.last_error`,
	} {
		rows, err := q.Query(ctx, sql, cutoff, tenantIDs, names, genv, ggw)
		if err != nil {
			return nil, fmt.Errorf("give up reconciliation: %w", err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[GaveUp])
		if err != nil {
			return nil, fmt.Errorf("give up reconciliation: %w", err)
		}
		out = append(out, got...)
	}
	return out, nil
}

func (store) reconcileCheck(ctx context.Context, q db.Querier, tenantID int64, env, reference string) (ReconcileCheck, error) {
	var c ReconcileCheck
	err := q.QueryRow(ctx, `SELECT subject, gateway, checks, last_checked_at, next_check_at, last_status, last_error
		FROM reconcile_checks WHERE tenant_id = $1 AND environment = $2 AND reference = $3`, tenantID, env, text(reference)).
		Scan(&c.Subject, &c.Gateway, &c.Checks, &c.LastCheckedAt, &c.NextCheckAt, &c.LastStatus, &c.LastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("reconciliation of %s: %w", reference, err)
	}
	return c, nil
}
