package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// Payment sources: how partnerhub learnt of a payment.
const (
	SourceGateway = "gateway" // Payment Webhook Events
	SourceShop    = "shop"    // the Summary Webhook
)

// ErrReferenceTaken means a Summary Webhook names a reference that is a
// gateway payment's: one reference cannot be both.
var ErrReferenceTaken = errors.New("payment: reference belongs to a gateway payment")

// Item is one line of what a payment bought, as a plugin receives it.
type Item = sdk.Item

// Purchase is what a payment credits: the player (Shop payments; "" for
// gateway ones, whose player is the customer id) and the items bought.
type Purchase struct {
	PlayerID string
	Items    []Item
}

// ShopSummary is a verified Summary Webhook resolved against the catalog.
type ShopSummary struct {
	Summary  pay1st.Summary
	BundleID int64 // the catalog bundle whose pay1st_bundle_id is Summary.ProductBundleID
}

// IngestedSummary is what one accepted Summary Webhook did.
type IngestedSummary struct {
	DeliveryID int64
	PaymentID  int64
	Duplicate  bool // the reference was recorded before: nothing changed
	Enqueued   bool // fulfilment was queued (only on the first summary)
}

// IngestSummary records a verified Summary Webhook in one transaction: the
// delivery, the Shop payment (status SUCCESSFUL), its item and its
// fulfilment job. A reference already recorded changes nothing and is a
// duplicate, whatever the second body says: fulfilment is queued once per
// reference. A reference that is a gateway payment's is ErrReferenceTaken
// (nothing is written; the caller records the refusal).
func (s *Service) IngestSummary(ctx context.Context, env tenant.Env, d Delivery, sum ShopSummary) (IngestedSummary, error) {
	var res IngestedSummary
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.IngestSummaryTx(ctx, tx, env, d, sum)
		return err
	})
	return res, err
}

// IngestSummaryTx is IngestSummary inside the caller's transaction.
func (s *Service) IngestSummaryTx(ctx context.Context, tx pgx.Tx, env tenant.Env, d Delivery, sum ShopSummary) (IngestedSummary, error) {
	var res IngestedSummary
	d.TenantID, d.Env, d.Kind = env.TenantID, env.Name, KindSummary
	d.Verdict, d.Reference = VerdictAccepted, sum.Summary.Reference
	var shop shopStore
	id, inserted, source, err := shop.upsertShopPayment(ctx, tx, env.TenantID, env.Name, sum.Summary)
	if err != nil {
		return res, err
	}
	if source != SourceShop {
		return res, ErrReferenceTaken
	}
	res.PaymentID = id
	if !inserted {
		d.Verdict, d.Reason = VerdictDuplicate, "summary already recorded for this reference"
	}
	if res.DeliveryID, err = s.store.insertDelivery(ctx, tx, d); err != nil {
		return res, err
	}
	if !inserted {
		res.Duplicate = true
		return res, nil
	}
	if err := shop.insertItem(ctx, tx, id, env.TenantID, env.Name, sum.BundleID, 1, sum.Summary.TokensPurchased); err != nil {
		return res, err
	}
	p, err := s.store.payment(ctx, tx, id)
	if err != nil {
		return res, err
	}
	if err := s.enq.EnqueueFulfilTx(ctx, tx, env, p); err != nil {
		return res, fmt.Errorf("enqueue fulfilment: %w", err)
	}
	res.Enqueued = true
	return res, nil
}

// ItemsFor returns what a payment bought, in the order it was recorded:
// each item's bundle SKU, name, quantity and digital currency, and the
// digital amount of one unit (plugins multiply by Quantity): Pay1st's
// tokensPurchased for a Shop payment (recorded as one unit, since Pay1st
// reports the total), else the bundle's quantity. Empty for a payment
// without items.
func (s *Service) ItemsFor(ctx context.Context, paymentID int64) ([]Item, error) {
	return shopStore{}.items(ctx, s.pool, paymentID)
}

// PurchaseOf returns what the fulfilment of a payment credits: its Shop
// player id and its items (see ItemsFor). ErrNotFound for an unknown payment.
func (s *Service) PurchaseOf(ctx context.Context, paymentID int64) (Purchase, error) {
	var shop shopStore
	player, err := shop.playerID(ctx, s.pool, paymentID)
	if err != nil {
		return Purchase{}, err
	}
	items, err := shop.items(ctx, s.pool, paymentID)
	if err != nil {
		return Purchase{}, err
	}
	return Purchase{PlayerID: player, Items: items}, nil
}

// digitalAmount is an item's credited amount as the plugin protocol carries it.
func digitalAmount(s *string) (decimal.NullDecimal, error) {
	if s == nil {
		return decimal.NullDecimal{}, nil
	}
	d, err := decimal.NewFromString(*s)
	if err != nil {
		return decimal.NullDecimal{}, fmt.Errorf("digital amount %q: %w", *s, err)
	}
	return decimal.NewNullDecimal(d), nil
}
