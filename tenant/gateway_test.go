package tenant_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func TestGatewayCredentials(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	ctx := context.Background()

	// Staging has its Signing Key from creation, not the API key/secret.
	_, err := b.svc.GatewayCredentials(ctx, "acme", tenant.Staging)
	require.ErrorIs(t, err, tenant.ErrCredentialsMissing)
	require.Contains(t, err.Error(), "apiKey, apiSecret")
	require.NotContains(t, err.Error(), "signingKey")
	_, err = b.svc.GatewayCredentials(ctx, "acme", tenant.Production)
	require.ErrorIs(t, err, tenant.ErrCredentialsMissing)
	require.Contains(t, err.Error(), "signingKey")

	_, err = b.svc.SetCredentials(ctx, b.acme, tenant.Staging, tenant.Credentials{
		APIKey: strp("ak-1"), APISecret: strp("as-SECRET"), SigningKey: strp("sk-SECRET")})
	require.NoError(t, err)
	c, err := b.svc.GatewayCredentials(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	require.Equal(t, tenant.GatewayCredentials{APIKey: "ak-1", APISecret: "as-SECRET", SigningKey: "sk-SECRET"}, c)
	for _, shown := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c), c.LogValue().String()} {
		require.NotContains(t, shown, "SECRET")
	}

	for _, bad := range [][2]string{{"nobody", tenant.Staging}, {"acme", "qa"}} {
		_, err = b.svc.GatewayCredentials(ctx, bad[0], bad[1])
		require.ErrorIs(t, err, tenant.ErrNotFound)
	}
}

func TestBundlesForSale(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	ctx := context.Background()
	p, err := b.svc.CreateProduct(ctx, b.acme.ID, tenant.Staging, tenant.ProductParams{Name: "Gold",
		Countries: []string{"ZA", "NG"}, FulfilmentMethod: tenant.FulfilPlugin})
	require.NoError(t, err)
	_, err = b.svc.CreateBundle(ctx, b.acme.ID, tenant.Staging, tenant.BundleParams{ProductID: p.ID, SKU: "gold-1",
		Name: "1 Gold", Quantity: decimal.RequireFromString("1"), DigitalCurrencyName: "Gold", DigitalCurrencyCode: "GLD",
		Prices: []tenant.Price{{CountryCode: "ZA", CurrencyCode: "ZAR", Amount: decimal.RequireFromString("1.50")}}})
	require.NoError(t, err)

	got, err := b.svc.BundlesForSale(ctx, b.acme.ID, tenant.Staging, []string{"gold-1", "nope"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, []string{"ZA", "NG"}, got["gold-1"].ProductCountries)
	require.Len(t, got["gold-1"].Prices, 1)
	require.Equal(t, "1.5", got["gold-1"].Prices[0].Amount.String())
	none, err := b.svc.BundlesForSale(ctx, b.acme.ID, tenant.Production, []string{"gold-1"})
	require.NoError(t, err)
	require.Empty(t, none, "catalogs are per environment")
}
