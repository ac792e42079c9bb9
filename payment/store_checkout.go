package payment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/db"
)

// orderStore holds the SQL of orders and order items (migration 0010).
type orderStore struct{}

// orderColumns reads an order (o) with its payment's status (p, joined by
// partnerReference; empty when no event came yet).
const orderColumns = `o.id, o.tenant_id, o.environment, o.partner_reference, o.gateway, coalesce(o.reference, ''),
	o.status, o.country_code, o.currency_code, o.amount::text, o.customer_id, o.last_error, o.request_hash,
	o.created_at, o.updated_at,
	coalesce((SELECT p.status FROM payments p WHERE p.tenant_id = o.tenant_id AND p.environment = o.environment
		AND p.partner_reference = o.partner_reference AND p.source = 'gateway' ORDER BY p.id LIMIT 1), '')`

// storedOrder is an order and its request hash.
type storedOrder struct {
	Order
	hash []byte
}

func scanOrder(row pgx.Row) (storedOrder, error) {
	var o storedOrder
	var amount string
	err := row.Scan(&o.ID, &o.TenantID, &o.Env, &o.PartnerReference, &o.Gateway, &o.Reference,
		&o.Status, &o.CountryCode, &o.CurrencyCode, &amount, &o.CustomerID, &o.LastError, &o.hash,
		&o.CreatedAt, &o.UpdatedAt, &o.PaymentStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("scan order: %w", err)
	}
	if o.Amount, err = decimal.NewFromString(amount); err != nil {
		return o, fmt.Errorf("order %d amount %q: %w", o.ID, amount, err)
	}
	return o, nil
}

func (s storedOrder) sameRequest(hash []byte) bool { return bytes.Equal(s.hash, hash) }

// orderItemsSQL lists orders' items ($1: order ids).
const orderItemsSQL = `SELECT order_id, sku, title, quantity, price::text, digital_currency_code, digital_currency_name,
		digital_amount::text
	FROM order_items WHERE order_id = ANY ($1) ORDER BY order_id, id`

// loadItems fills the Items of orders in one query.
func (orderStore) loadItems(ctx context.Context, q db.Querier, orders []*storedOrder) error {
	if len(orders) == 0 {
		return nil
	}
	byID := make(map[int64]*storedOrder, len(orders))
	ids := make([]int64, len(orders))
	for i, o := range orders {
		byID[o.ID], ids[i] = o, o.ID
		o.Items = []OrderItem{}
	}
	rows, err := q.Query(ctx, orderItemsSQL, ids)
	if err != nil {
		return fmt.Errorf("load order items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var it OrderItem
		var price, digital string
		if err := rows.Scan(&id, &it.SKU, &it.Title, &it.Quantity, &price, &it.DigitalCurrencyCode,
			&it.DigitalCurrencyName, &digital); err != nil {
			return fmt.Errorf("load order items: %w", err)
		}
		if it.Price, err = decimal.NewFromString(price); err != nil {
			return fmt.Errorf("order %d price %q: %w", id, price, err)
		}
		if it.DigitalAmount, err = decimal.NewFromString(digital); err != nil {
			return fmt.Errorf("order %d digital amount %q: %w", id, digital, err)
		}
		if o := byID[id]; o != nil {
			o.Items = append(o.Items, it)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load order items: %w", err)
	}
	return nil
}

// order reads one order with its items, selected by where ($1 tenant, $2
// env, $3 the key).
func (st orderStore) order(ctx context.Context, q db.Querier, where string, tenantID int64, env, key string) (storedOrder, error) {
	o, err := scanOrder(q.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders o
		WHERE o.tenant_id = $1 AND o.environment = $2 AND `+where, tenantID, env, key))
	if err != nil {
		return o, err
	}
	return o, st.loadItems(ctx, q, []*storedOrder{&o})
}

func (st orderStore) byPartnerReference(ctx context.Context, q db.Querier, tenantID int64, env, partnerRef string) (storedOrder, error) {
	return st.order(ctx, q, `o.partner_reference = $3`, tenantID, env, partnerRef)
}

func (st orderStore) byReference(ctx context.Context, q db.Querier, tenantID int64, env, reference string) (storedOrder, error) {
	return st.order(ctx, q, `o.reference = $3`, tenantID, env, reference)
}

// insert stores a new order, status creating, reserved for the caller
// until now + lease, with its items. It answers false, storing nothing,
// when the partnerReference is taken (a concurrent request was first).
func (orderStore) insert(ctx context.Context, tx pgx.Tx, o Order, hash []byte, lease time.Duration) (int64, bool, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO orders (tenant_id, environment, partner_reference, gateway, status,
			country_code, currency_code, amount, customer_id, request_hash, calling_until)
		VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7::numeric, $8, $9, now() + $10::interval)
		ON CONFLICT (tenant_id, environment, partner_reference) DO NOTHING RETURNING id`,
		o.TenantID, o.Env, o.PartnerReference, o.Gateway, o.CountryCode, o.CurrencyCode, o.Amount.String(),
		o.CustomerID, hash, lease).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("insert order: %w", err)
	}
	n := len(o.Items)
	skus, titles, prices, codes, names, digital := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	qty := make([]int64, n)
	for i, it := range o.Items {
		skus[i], titles[i], prices[i], codes[i], names[i], digital[i], qty[i] = it.SKU, it.Title, it.Price.String(),
			it.DigitalCurrencyCode, it.DigitalCurrencyName, it.DigitalAmount.String(), it.Quantity
	}
	if _, err := tx.Exec(ctx, `INSERT INTO order_items (order_id, tenant_id, environment, sku, title, quantity, price,
			digital_currency_code, digital_currency_name, digital_amount)
		SELECT $1, $2, $3, u.sku, u.title, u.quantity, u.price::numeric, u.code, u.name, u.digital::numeric
		FROM unnest($4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[])
			WITH ORDINALITY AS u (sku, title, quantity, price, code, name, digital, n)
		ORDER BY u.n`,
		id, o.TenantID, o.Env, skus, titles, qty, prices, codes, names, digital); err != nil {
		return 0, false, fmt.Errorf("insert order items: %w", err)
	}
	return id, true, nil
}

// claimed is what claim found.
type claimed struct {
	ok bool
	// mayExist: an earlier call may have reached Pay1st without its
	// answer (see callCreate).
	mayExist bool
	// busyFor is how long the holder's reservation still runs when ok is
	// false.
	busyFor time.Duration
}

// claim reserves a creating or failed order for the caller until now +
// lease, unless another request holds it. An unknown, created or flagged
// order is never claimed: Pay1st must not be asked again.
func (orderStore) claim(ctx context.Context, q db.Querier, id int64, lease time.Duration) (claimed, error) {
	var c claimed
	var busy float64
	err := q.QueryRow(ctx, `WITH c AS (
			UPDATE orders SET calling_until = now() + $2::interval
			WHERE id = $1 AND status IN ('creating', 'failed') AND (calling_until IS NULL OR calling_until < now())
			RETURNING may_exist)
		SELECT EXISTS (SELECT 1 FROM c), coalesce((SELECT may_exist FROM c), false),
			coalesce((SELECT extract(epoch FROM calling_until - now()) FROM orders WHERE id = $1), 0)::float8`,
		id, lease).Scan(&c.ok, &c.mayExist, &busy)
	if err != nil {
		return c, fmt.Errorf("claim order: %w", err)
	}
	c.busyFor = time.Duration(busy * float64(time.Second))
	return c, nil
}

// finished is what finish left.
type finished struct {
	status string
	// earlier is the reference the order had before (an event taught it),
	// "" when none.
	earlier string
}

// finish records the outcome of a call to Pay1st and releases the order.
// mayExist is sticky: once a call may have reached Pay1st unanswered, a
// later refusal makes the order unknown, not failed. A created, flagged or
// unknown order never goes back (unknown may still become created). A
// reference other than the one the order already has makes it flagged,
// keeping the first, with flagReason as its last error.
func (orderStore) finish(ctx context.Context, q db.Querier, id int64, status, reference, lastError string, mayExist bool, flagReason string) (finished, error) {
	var f finished
	err := q.QueryRow(ctx, `WITH old AS (SELECT id, status, reference FROM orders WHERE id = $1 FOR UPDATE)
		UPDATE orders o SET
			status = CASE
				WHEN old.reference IS NOT NULL AND $3 <> '' AND old.reference <> $3 THEN 'flagged'
				WHEN old.status IN ('created', 'flagged') THEN old.status
				WHEN old.status = 'unknown' AND $2 <> 'created' THEN old.status
				ELSE $2 END,
			reference = coalesce(old.reference, NULLIF($3, '')),
			last_error = CASE WHEN old.reference IS NOT NULL AND $3 <> '' AND old.reference <> $3 THEN $6 ELSE $4 END,
			may_exist = o.may_exist OR $5, calling_until = NULL, updated_at = now()
		FROM old WHERE o.id = old.id
		RETURNING o.status, coalesce(old.reference, '')`,
		id, status, reference, text(clip(lastError, maxLastError)), mayExist, text(clip(flagReason, maxLastError))).
		Scan(&f.status, &f.earlier)
	if err != nil {
		return f, fmt.Errorf("update order: %w", err)
	}
	return f, nil
}

// list reads a page of a tenant environment's orders, newest first.
func (st orderStore) list(ctx context.Context, q db.Querier, tenantID int64, env, status string, before int64, limit int) ([]storedOrder, error) {
	rows, err := q.Query(ctx, `SELECT `+orderColumns+` FROM orders o
		WHERE o.tenant_id = $1 AND o.environment = $2 AND ($3::text = '' OR o.status = $3)
			AND ($4::bigint = 0 OR o.id < $4)
		ORDER BY o.id DESC LIMIT $5`, tenantID, env, status, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedOrder, error) { return scanOrder(r) })
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	ptrs := make([]*storedOrder, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, st.loadItems(ctx, q, ptrs)
}

// expectedSQL reads the order partnerhub created for an event's
// partnerReference ($1 tenant, $2 env, $3 partnerReference, $4 the
// event's reference): its amount, currency, status and reference, and
// another order that holds $4 already, if any. In the same statement, an
// order without a reference (a lost answer: creating, unknown; or a
// refusal that was not one: failed) learns it from the event, so it
// becomes created and lookups by reference find it — only when the event
// is new (its row in payment_events is this delivery's: $7 payment, $8
// status, $9 updatedDate, $10 delivery), its amount ($5) and currency ($6)
// are the order's, and no other order holds the reference (the unique
// index would fail the ingest). It runs in the ingest's second round trip,
// after the event's row.
const expectedSQL = `WITH o AS (
		SELECT id, amount, currency_code, reference, status FROM orders
		WHERE tenant_id = $1 AND environment = $2 AND partner_reference = $3
	), taken AS (
		SELECT partner_reference FROM orders
		WHERE tenant_id = $1 AND environment = $2 AND reference = $4 AND partner_reference <> $3
	), resolved AS (
		UPDATE orders SET reference = $4, status = 'created', updated_at = now()
		FROM o WHERE orders.id = o.id AND o.reference IS NULL AND $4 <> ''
			AND o.amount = $5::numeric AND o.currency_code = $6
			AND NOT EXISTS (SELECT 1 FROM taken)
			AND EXISTS (SELECT 1 FROM payment_events e WHERE e.payment_id = $7 AND e.status = $8
				AND e.updated_date = $9 AND e.delivery_id = $10)
		RETURNING orders.reference
	)
	SELECT true, o.amount::text, o.currency_code,
		CASE WHEN EXISTS (SELECT 1 FROM resolved) THEN 'created' ELSE o.status END,
		coalesce(o.reference, (SELECT reference FROM resolved), ''), coalesce((SELECT partner_reference FROM taken), '')
	FROM o
	UNION ALL
	SELECT false, '0', '', '', '', coalesce((SELECT partner_reference FROM taken), '')
	WHERE NOT EXISTS (SELECT 1 FROM o)`

// orderExpect is what expectedSQL found for an event.
type orderExpect struct {
	found     bool // partnerhub created an order with the partnerReference
	amount    decimal.Decimal
	currency  string
	status    string
	reference string // the order's reference after the event; "" when none
	// takenBy is the partnerReference of another order that holds the
	// event's reference.
	takenBy string
}

// queueExpected reads the order of it's event into it.expect (expectedSQL).
func (orderStore) queueExpected(b *pgx.Batch, it *Ingest) {
	ev := it.Event
	b.Queue(expectedSQL, it.Env.TenantID, it.Env.Name, ev.PartnerReference, ev.Reference,
		ev.OrderAmount.String(), ev.CurrencyCode, it.locked.id, string(ev.Status), ev.UpdatedDate, it.Result.DeliveryID).
		QueryRow(func(row pgx.Row) error {
			x := &it.expect
			var amount string
			if err := row.Scan(&x.found, &amount, &x.currency, &x.status, &x.reference, &x.takenBy); err != nil {
				return fmt.Errorf("find order of payment %s: %w", ev.Reference, err)
			}
			var err error
			if x.amount, err = decimal.NewFromString(amount); err != nil {
				return fmt.Errorf("order amount %q: %w", amount, err)
			}
			return nil
		})
}
