package tenant_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func changeKeys(p tenant.Promotion) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Kind+" "+c.Action+" "+c.Key)
	}
	return out
}

func TestPromoteCopiesStagingCatalogOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := catalogTenant(t, b, "acme", 1)
	tn, err := b.svc.Get(ctx, "acme")
	require.NoError(t, err)

	prod, err := b.svc.CreateProduct(ctx, id, tenant.Staging, validProduct())
	require.NoError(t, err)
	bundle := validBundle(prod.ID)
	bundle.Pay1stBundleID = 501
	_, err = b.svc.CreateBundle(ctx, id, tenant.Staging, bundle)
	require.NoError(t, err)

	dry, err := b.svc.Promote(ctx, tn, true)
	require.NoError(t, err)
	require.False(t, dry.Applied)
	require.Equal(t, []string{"product create Gold coins", "bundle create gold-100"}, changeKeys(dry))
	page, err := b.svc.ListBundles(ctx, id, tenant.Production, tenant.BundleFilter{})
	require.NoError(t, err)
	require.Empty(t, page.Bundles, "a dry run writes nothing")

	applied, err := b.svc.Promote(ctx, tn, false)
	require.NoError(t, err)
	require.True(t, applied.Applied)
	require.Equal(t, changeKeys(dry), changeKeys(applied))

	page, err = b.svc.ListBundles(ctx, id, tenant.Production, tenant.BundleFilter{})
	require.NoError(t, err)
	require.Len(t, page.Bundles, 1)
	got := page.Bundles[0]
	require.Equal(t, "gold-100", got.SKU)
	require.Zero(t, got.Pay1stBundleID, "each environment's Pay1st ids are its own")
	require.Len(t, got.Prices, 3)
	for _, p := range got.Prices {
		if p.CurrencyCode == "USD" {
			require.Equal(t, "1234.56789012", tenant.DecimalString(p.Amount), "exact")
		}
		if p.CurrencyCode == "NGN" {
			require.Equal(t, "1000.00", tenant.DecimalString(p.Amount), "scale kept")
		}
	}

	again, err := b.svc.Promote(ctx, tn, false)
	require.NoError(t, err)
	require.False(t, again.Applied, "applying twice changes nothing")
	require.Empty(t, again.Changes)

	// The checklist sees production replicated.
	c, err := b.svc.Checklist(ctx, tn)
	require.NoError(t, err)
	require.True(t, stepByKey(c, "replicate_production").Automatic)
}

func TestPromoteUpdatesAndDeletes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := catalogTenant(t, b, "acme", 1)
	tn, err := b.svc.Get(ctx, "acme")
	require.NoError(t, err)

	sp, err := b.svc.CreateProduct(ctx, id, tenant.Staging, validProduct())
	require.NoError(t, err)
	sb, err := b.svc.CreateBundle(ctx, id, tenant.Staging, validBundle(sp.ID))
	require.NoError(t, err)
	_, err = b.svc.Promote(ctx, tn, false)
	require.NoError(t, err)

	// Production gets a Pay1st id of its own and an extra bundle; staging
	// changes a price.
	prodBundles, err := b.svc.ListBundles(ctx, id, tenant.Production, tenant.BundleFilter{})
	require.NoError(t, err)
	pb := prodBundles.Bundles[0]
	withID := validBundle(pb.ProductID)
	withID.Pay1stBundleID = 777
	_, err = b.svc.UpdateBundle(ctx, id, tenant.Production, pb.ID, withID)
	require.NoError(t, err)
	extra := validBundle(pb.ProductID)
	extra.SKU = "prod-only"
	_, err = b.svc.CreateBundle(ctx, id, tenant.Production, extra)
	require.NoError(t, err)
	changed := validBundle(sp.ID)
	changed.Prices[0].Amount = dec("109.99")
	_, err = b.svc.UpdateBundle(ctx, id, tenant.Staging, sb.ID, changed)
	require.NoError(t, err)

	p, err := b.svc.Promote(ctx, tn, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"bundle update gold-100", "bundle delete prod-only"}, changeKeys(p))
	for _, c := range p.Changes {
		if c.Action == tenant.ActionUpdate {
			require.Equal(t, []string{"prices"}, c.Fields, "only what differs; the Pay1st id is not a difference")
		}
	}
	prodBundles, err = b.svc.ListBundles(ctx, id, tenant.Production, tenant.BundleFilter{})
	require.NoError(t, err)
	require.Len(t, prodBundles.Bundles, 1)
	require.Equal(t, int64(777), prodBundles.Bundles[0].Pay1stBundleID, "production keeps its own Pay1st id")
}

func TestPromoteIsAllOrNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := catalogTenant(t, b, "acme", 1)
	tn, err := b.svc.Get(ctx, "acme")
	require.NoError(t, err)

	// Production sold a bundle staging no longer has: promotion would have
	// to delete it, which payments forbid, so nothing is applied.
	pp, err := b.svc.CreateProduct(ctx, id, tenant.Production, validProduct())
	require.NoError(t, err)
	pb, err := b.svc.CreateBundle(ctx, id, tenant.Production, validBundle(pp.ID))
	require.NoError(t, err)
	insertPaymentItem(t, b, id, tenant.Production, pb.ID, "C-SOLD-P")
	other := validProduct()
	other.Name = "Silver"
	_, err = b.svc.CreateProduct(ctx, id, tenant.Staging, other)
	require.NoError(t, err)

	_, err = b.svc.Promote(ctx, tn, false)
	require.ErrorIs(t, err, tenant.ErrInUse)
	products, err := b.svc.ListProducts(ctx, id, tenant.Production, tenant.ProductFilter{})
	require.NoError(t, err)
	require.Len(t, products.Products, 1, "the Silver product was not created either")
	require.Equal(t, "Gold coins", products.Products[0].Name)

	// An http image URL is fine in staging, refused in production.
	b2 := setup(t)
	id2 := catalogTenant(t, b2, "beta", 2)
	tn2, err := b2.svc.Get(ctx, "beta")
	require.NoError(t, err)
	insecure := validProduct()
	insecure.ImageURL = "http://cdn.example.com/gold.png"
	_, err = b2.svc.CreateProduct(ctx, id2, tenant.Staging, insecure)
	require.NoError(t, err)
	_, err = b2.svc.Promote(ctx, tn2, false)
	requireField(t, err, "imageUrl")
	require.ErrorContains(t, err, "Gold coins")
}

func TestChecklist(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := catalogTenant(t, b, "acme", 1)
	tn, err := b.svc.Get(ctx, "acme")
	require.NoError(t, err)

	c, err := b.svc.Checklist(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, 9, c.Total)
	require.Zero(t, c.Done)
	require.Equal(t, "13.5", c.EstimatedDaysLeft.String(), "the seed's estimates add up to 13.5 days")

	require.NoError(t, b.svc.SetStep(ctx, tn, "registration", tenant.StepDone, "welcome emails done"))
	require.NoError(t, b.svc.SetStep(ctx, tn, "creatives", tenant.StepInProgress, ""))
	p, err := b.svc.CreateProduct(ctx, id, tenant.Staging, validProduct())
	require.NoError(t, err)
	_, err = b.svc.CreateBundle(ctx, id, tenant.Staging, validBundle(p.ID))
	require.NoError(t, err)

	c, err = b.svc.Checklist(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, tenant.StepDone, stepByKey(c, "registration").Status)
	require.False(t, stepByKey(c, "registration").Automatic)
	require.Equal(t, tenant.StepInProgress, stepByKey(c, "creatives").Status)
	require.True(t, stepByKey(c, "catalog").Automatic, "observed: products and a priced bundle")
	require.Equal(t, tenant.StepTodo, stepByKey(c, "fulfilment_method").Status, "plugin-fulfilled product but no active plugin")
	require.Equal(t, 2, c.Done)
	require.Equal(t, "11", c.EstimatedDaysLeft.String())

	require.ErrorIs(t, b.svc.SetStep(ctx, tn, "no-such-step", tenant.StepDone, ""), tenant.ErrNotFound)
	requireField(t, b.svc.SetStep(ctx, tn, "creatives", "finished", ""), "status")
}

func stepByKey(c tenant.Checklist, key string) tenant.StepState {
	for _, s := range c.Steps {
		if s.Key == key {
			return s
		}
	}
	return tenant.StepState{}
}

func TestPromoteSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	catalogTenant(t, b, "acme", 1)
	tn, err := b.svc.Get(ctx, "acme")
	require.NoError(t, err)
	ok, list := "https://game.example.com/paid", []string{"203.0.113.0/24"}
	_, err = b.svc.UpdateEnvironment(ctx, tn, tenant.Staging, tenant.EnvPatch{CallbackSuccessURL: &ok, IPAllowList: &list})
	require.NoError(t, err)
	secret := "prod-signing-key-0123456789"
	_, err = b.svc.SetCredentials(ctx, tn, tenant.Production, tenant.Credentials{SigningKey: &secret})
	require.NoError(t, err)

	p, err := b.svc.Promote(ctx, tn, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"setting update callbackSuccessUrl", "setting update ipAllowList"}, changeKeys(p))
	prod, err := b.svc.Environment(ctx, tn, tenant.Production)
	require.NoError(t, err)
	require.Equal(t, ok, prod.Callbacks.Success)
	require.Len(t, prod.IPAllowList, 1)
	env, err := b.svc.Env(ctx, "acme", tenant.Production)
	require.NoError(t, err)
	require.Equal(t, secret, env.SigningKey, "credentials are never promoted")

	// http is fine in staging, refused in production: nothing is applied.
	insecure := "http://game.example.com/failed"
	_, err = b.svc.UpdateEnvironment(ctx, tn, tenant.Staging, tenant.EnvPatch{CallbackFailureURL: &insecure})
	require.NoError(t, err)
	_, err = b.svc.Promote(ctx, tn, false)
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe.Field, "callbackFailureUrl")
	prod, err = b.svc.Environment(ctx, tn, tenant.Production)
	require.NoError(t, err)
	require.Empty(t, prod.Callbacks.Failure)
}

// TestPromoteDroppedCountry: staging drops a country from a product and
// its bundle's price there; production, whose bundle still has that price,
// must follow in one promotion.
func TestPromoteDroppedCountry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := catalogTenant(t, b, "acme", 1)
	tn, err := b.svc.Get(ctx, "acme")
	require.NoError(t, err)
	sp, err := b.svc.CreateProduct(ctx, id, tenant.Staging, validProduct()) // ZA, NG, KE
	require.NoError(t, err)
	withKE := validBundle(sp.ID)
	withKE.Prices = append(withKE.Prices, tenant.Price{CountryCode: "KE", CurrencyCode: "KES", Amount: dec("150")})
	sb, err := b.svc.CreateBundle(ctx, id, tenant.Staging, withKE)
	require.NoError(t, err)
	_, err = b.svc.Promote(ctx, tn, false)
	require.NoError(t, err)

	_, err = b.svc.UpdateBundle(ctx, id, tenant.Staging, sb.ID, validBundle(sp.ID)) // KE price gone
	require.NoError(t, err)
	noKE := validProduct()
	noKE.Countries = []string{"ZA", "NG"}
	_, err = b.svc.UpdateProduct(ctx, id, tenant.Staging, sp.ID, noKE)
	require.NoError(t, err)

	c, err := b.svc.Checklist(ctx, tn)
	require.NoError(t, err)
	require.False(t, stepByKey(c, "replicate_production").Automatic, "the checklist sees what promotion sees")

	p, err := b.svc.Promote(ctx, tn, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"product update Gold coins", "bundle update gold-100"}, changeKeys(p))
	products, err := b.svc.ListProducts(ctx, id, tenant.Production, tenant.ProductFilter{})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"ZA", "NG"}, products.Products[0].Countries)

	c, err = b.svc.Checklist(ctx, tn)
	require.NoError(t, err)
	require.True(t, stepByKey(c, "replicate_production").Automatic)

	// A difference only promotion would notice (a bundle's name) is not a replica.
	renamed := validBundle(sp.ID)
	renamed.Name = "A hundred gold"
	_, err = b.svc.UpdateBundle(ctx, id, tenant.Staging, sb.ID, renamed)
	require.NoError(t, err)
	c, err = b.svc.Checklist(ctx, tn)
	require.NoError(t, err)
	require.False(t, stepByKey(c, "replicate_production").Automatic)
}
