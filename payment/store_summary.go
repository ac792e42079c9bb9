package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
)

// shopStore holds the SQL of Shop payments and payment items.
type shopStore struct{}

// upsertShopPayment inserts a Shop payment for a summary, or finds the
// payment already holding its reference (locked, so a concurrent summary
// for the same reference waits and then sees it). It returns the payment's
// id, whether it was inserted, and its source.
func (shopStore) upsertShopPayment(ctx context.Context, q db.Querier, tenantID int64, env string, sum pay1st.Summary) (int64, bool, string, error) {
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO payments
		(tenant_id, environment, reference, partner_reference, status, amount, currency_code, payment_method,
		 source, player_id)
		VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, 'shop', $9)
		ON CONFLICT (tenant_id, environment, reference) DO NOTHING RETURNING id`,
		tenantID, env, text(sum.Reference), text(sum.ExternalReference), string(pay1st.StatusSuccessful),
		sum.Amount.String(), sum.Currency, text(sum.PaymentMethod), text(sum.PlayerID)).Scan(&id)
	if err == nil {
		return id, true, SourceShop, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, "", fmt.Errorf("insert shop payment: %w", err)
	}
	var source string
	err = q.QueryRow(ctx, `SELECT id, source FROM payments
		WHERE tenant_id = $1 AND environment = $2 AND reference = $3 FOR UPDATE`,
		tenantID, env, text(sum.Reference)).Scan(&id, &source)
	if err != nil {
		return 0, false, "", fmt.Errorf("find payment by reference: %w", err)
	}
	return id, false, source, nil
}

func (shopStore) insertItem(ctx context.Context, q db.Querier, paymentID, tenantID int64, env string, bundleID int64, quantity int, digital decimal.Decimal) error {
	_, err := q.Exec(ctx, `INSERT INTO payment_items (payment_id, tenant_id, environment, bundle_id, quantity, digital_amount)
		VALUES ($1, $2, $3, $4, $5, $6::numeric)`, paymentID, tenantID, env, bundleID, quantity, digital.String())
	if err != nil {
		return fmt.Errorf("insert payment item: %w", err)
	}
	return nil
}

func (shopStore) items(ctx context.Context, q db.Querier, paymentID int64) ([]Item, error) {
	rows, err := q.Query(ctx, itemsSQL, paymentID)
	if err != nil {
		return nil, fmt.Errorf("list payment items: %w", err)
	}
	return scanItems(rows)
}

func (shopStore) playerID(ctx context.Context, q db.Querier, paymentID int64) (string, error) {
	var player *string
	err := q.QueryRow(ctx, `SELECT player_id FROM payments WHERE id = $1`, paymentID).Scan(&player)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get payment player: %w", err)
	}
	if player == nil {
		return "", nil
	}
	return *player, nil
}
