package stagingtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/tenant"
)

// store holds the SQL of test_transactions (migration 0012).
type store struct{}

const txColumns = `id, tenant_id, partner_reference, sku, player_id, country_code, status, reference, steps, created_at, updated_at`

func scanTx(row pgx.Row, extra ...any) (Transaction, error) {
	var tx Transaction
	var steps []byte
	dest := append([]any{&tx.ID, &tx.TenantID, &tx.PartnerReference, &tx.SKU, &tx.PlayerID, &tx.CountryCode, &tx.Status,
		&tx.Reference, &steps, &tx.CreatedAt, &tx.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return tx, err
	}
	if err := json.Unmarshal(steps, &tx.Steps); err != nil {
		return tx, fmt.Errorf("test transaction %d steps: %w", tx.ID, err)
	}
	return tx, nil
}

// claim inserts the transaction, or takes over a stored one of the same
// request that is pending or whose run was abandoned (lease over). claimed
// says the caller is to run it; otherwise tx is as stored (finished, or
// running in another request).
func (store) claim(ctx context.Context, q db.Querier, tenantID int64, r Request, lease time.Time) (tx Transaction, claimed, created bool, err error) {
	var inserted bool
	tx, err = scanTx(q.QueryRow(ctx, `INSERT INTO test_transactions
		(tenant_id, partner_reference, request_hash, sku, player_id, country_code, status, lease_until)
		VALUES ($1, $2, $3, $4, $5, $6, 'running', $7)
		ON CONFLICT (tenant_id, partner_reference) DO UPDATE SET status = 'running', lease_until = EXCLUDED.lease_until, updated_at = now()
			WHERE test_transactions.request_hash = EXCLUDED.request_hash
				AND (test_transactions.status = 'pending' OR (test_transactions.status = 'running' AND test_transactions.lease_until < now()))
		RETURNING `+txColumns+`, xmax = 0`,
		tenantID, r.PartnerReference, r.hash(), r.SKU, r.PlayerID, r.CountryCode, lease), &inserted)
	if err == nil {
		return tx, true, inserted, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return tx, false, false, fmt.Errorf("claim test transaction: %w", err)
	}
	var hash []byte
	tx, err = scanTx(q.QueryRow(ctx, `SELECT `+txColumns+`, request_hash FROM test_transactions
		WHERE tenant_id = $1 AND partner_reference = $2`, tenantID, r.PartnerReference), &hash)
	if err != nil {
		return tx, false, false, fmt.Errorf("read test transaction: %w", err)
	}
	if string(hash) != string(r.hash()) {
		return Transaction{}, false, false, fmt.Errorf("%w: partnerReference %s belongs to another test transaction",
			tenant.ErrConflict, r.PartnerReference)
	}
	return tx, false, false, nil
}

func (store) save(ctx context.Context, q db.Querier, tx Transaction) error {
	steps, err := json.Marshal(tx.Steps)
	if err != nil {
		return fmt.Errorf("encode steps: %w", err)
	}
	if tx.Steps == nil {
		steps = []byte("[]")
	}
	_, err = q.Exec(ctx, `UPDATE test_transactions SET status = $2, reference = $3, steps = $4, updated_at = now()
		WHERE id = $1`, tx.ID, tx.Status, tx.Reference, steps)
	if err != nil {
		return fmt.Errorf("save test transaction: %w", err)
	}
	return nil
}

func (store) get(ctx context.Context, q db.Querier, tenantID int64, partnerReference string) (Transaction, error) {
	tx, err := scanTx(q.QueryRow(ctx, `SELECT `+txColumns+` FROM test_transactions
		WHERE tenant_id = $1 AND partner_reference = $2`, tenantID, partnerReference))
	if errors.Is(err, pgx.ErrNoRows) {
		return tx, tenant.ErrNotFound
	}
	if err != nil {
		return tx, fmt.Errorf("read test transaction: %w", err)
	}
	return tx, nil
}
