package payment

import (
	"context"
	"fmt"
	"strconv"

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

// orderPurchaseSQL lists what a gateway payment's order bought, with the
// order's customer ($1: payment id): nothing for a Shop payment or a
// payment partnerhub did not create. The order must be this payment's
// (orderOfPaymentSQL: its reference), not only name its partnerReference:
// a second payment claiming an order that has its own is not credited with
// its items.
const orderPurchaseSQL = `SELECT o.customer_id, i.sku, i.title, i.quantity, i.digital_currency_code,
		i.digital_currency_name, i.digital_amount::text
	FROM payments p
	JOIN orders o ON ` + orderOfPaymentSQL + `
	JOIN order_items i ON i.order_id = o.id
	WHERE p.id = $1 AND p.source = 'gateway'
	ORDER BY i.id`

// orderPurchase is what orderPurchaseSQL found.
type orderPurchase struct {
	customerID int64
	items      []Item
}

func scanOrderPurchase(rows pgx.Rows) (orderPurchase, error) {
	defer rows.Close()
	var out orderPurchase
	for rows.Next() {
		var it Item
		var amount string
		if err := rows.Scan(&out.customerID, &it.SKU, &it.Name, &it.Quantity, &it.DigitalCurrencyCode,
			&it.DigitalCurrencyName, &amount); err != nil {
			return out, fmt.Errorf("scan order item: %w", err)
		}
		var err error
		if it.DigitalAmount, err = digitalAmount(&amount); err != nil {
			return out, err
		}
		out.items = append(out.items, it)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("list order items: %w", err)
	}
	return out, nil
}

// PaymentAndPurchase is Get and what the payment's fulfilment credits, in
// one round trip (three statements pipelined in one batch): the fulfil and
// reverse jobs need both on every attempt, and at hundreds of jobs a second
// round trips are what they wait on. A Shop payment's purchase is its
// player and items (PurchaseOf); a gateway payment partnerhub created as an
// order has the order's items and its customer id as player; any other
// gateway payment has neither. ErrNotFound when there is no such payment.
func (s *Service) PaymentAndPurchase(ctx context.Context, id int64) (Payment, Purchase, error) {
	var (
		p        Payment
		pur      Purchase
		player   *string
		ord      orderPurchase
		pErr     error
		itemErr  error
		orderErr error
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
	b.Queue(orderPurchaseSQL, id).Query(func(rows pgx.Rows) error {
		ord, orderErr = scanOrderPurchase(rows)
		return nil
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return Payment{}, Purchase{}, fmt.Errorf("load payment and purchase: %w", err)
	}
	for _, err := range []error{pErr, itemErr, orderErr} {
		if err != nil {
			return Payment{}, Purchase{}, err
		}
	}
	if player != nil {
		pur.PlayerID = *player
	}
	if len(ord.items) > 0 && len(pur.Items) == 0 {
		pur.PlayerID, pur.Items = strconv.FormatInt(ord.customerID, 10), ord.items
	}
	return p, pur, nil
}

// withExtra scans the columns scanPayment knows, then extra ones after them.
type withExtra struct {
	pgx.Row
	extra []any
}

func (r withExtra) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }
