package payment_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
)

// TestPaymentAndPurchase: the jobs' one-round-trip load answers exactly
// what Get and PurchaseOf answer, for a Shop payment (player, items) and a
// gateway one (neither), and ErrNotFound for no payment.
func TestPaymentAndPurchase(t *testing.T) {
	t.Parallel()
	b := setupShop(t)
	ctx := context.Background()
	shop, err := b.payments.IngestSummary(ctx, b.env, shopDelivery(), b.summary("C-shop-P"))
	require.NoError(t, err)
	gw, err := b.payments.IngestEvent(ctx, b.env, shopDelivery(), event("C-gw-P", pay1st.StatusPending, t0))
	require.NoError(t, err)

	for _, id := range []int64{shop.PaymentID, gw.PaymentID} {
		wantP, err := b.payments.Get(ctx, id)
		require.NoError(t, err)
		wantPur, err := b.payments.PurchaseOf(ctx, id)
		require.NoError(t, err)
		p, pur, err := b.payments.PaymentAndPurchase(ctx, id)
		require.NoError(t, err)
		require.Equal(t, wantP, p)
		require.Equal(t, wantPur, pur)
	}
	_, pur, err := b.payments.PaymentAndPurchase(ctx, shop.PaymentID)
	require.NoError(t, err)
	require.Equal(t, "player-7", pur.PlayerID, "the Shop payment's player")
	require.Len(t, pur.Items, 1)

	_, _, err = b.payments.PaymentAndPurchase(ctx, 999999)
	require.ErrorIs(t, err, payment.ErrNotFound)
}
