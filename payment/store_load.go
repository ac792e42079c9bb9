package payment

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// itemsSQL lists a Shop payment's items with their bundles ($1: payment id).
const itemsSQL = `SELECT b.sku, b.name, i.quantity, b.digital_currency_code, b.digital_currency_name,
		coalesce(i.digital_amount, b.quantity)::text
	FROM payment_items i
	JOIN bundles b ON b.id = i.bundle_id AND b.tenant_id = i.tenant_id AND b.environment = i.environment
	WHERE i.payment_id = $1 ORDER BY i.id`

func scanItems(rows pgx.Rows) ([]Item, error) {
	defer rows.Close()
	items := []Item{}
	for rows.Next() {
		var it Item
		var amount *string
		if err := rows.Scan(&it.SKU, &it.Name, &it.Quantity, &it.DigitalCurrencyCode, &it.DigitalCurrencyName, &amount); err != nil {
			return nil, fmt.Errorf("scan payment item: %w", err)
		}
		var err error
		if it.DigitalAmount, err = digitalAmount(amount); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list payment items: %w", err)
	}
	return items, nil
}

// PaymentAndPurchase is Get and PurchaseOf in one round trip (two
// statements pipelined in one batch): the fulfil and reverse jobs need both on
// every attempt, and at hundreds of jobs a second round trips are what
// they wait on. ErrNotFound when there is no such payment.
func (s *Service) PaymentAndPurchase(ctx context.Context, id int64) (Payment, Purchase, error) {
	var (
		p       Payment
		pur     Purchase
		player  *string
		pErr    error
		itemErr error
	)
	b := &pgx.Batch{}
	b.Queue(`SELECT `+paymentColumns+`, player_id FROM payments WHERE id = $1`, id).QueryRow(func(row pgx.Row) error {
		p, pErr = scanPayment(withExtra{row, []any{&player}})
		return nil // reported below, with ErrNotFound intact
	})
	b.Queue(itemsSQL, id).Query(func(rows pgx.Rows) error {
		pur.Items, itemErr = scanItems(rows)
		return nil
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return Payment{}, Purchase{}, fmt.Errorf("load payment and purchase: %w", err)
	}
	if pErr != nil {
		return Payment{}, Purchase{}, pErr
	}
	if itemErr != nil {
		return Payment{}, Purchase{}, itemErr
	}
	if player != nil {
		pur.PlayerID = *player
	}
	return p, pur, nil
}

// withExtra scans the columns scanPayment knows, then extra ones after them.
type withExtra struct {
	pgx.Row
	extra []any
}

func (r withExtra) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }
