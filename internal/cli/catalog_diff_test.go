package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleCatalog() catalogDoc {
	id := int64(42)
	return catalogDoc{Products: []productDoc{
		{Name: "Gold", FulfilmentMethod: "plugin", Countries: []string{"NG", "KE"}, Bundles: []bundleDoc{
			{SKU: "gold-500", Name: "500 Gold", Quantity: "500", DigitalCurrency: currencyDoc{"GLD", "Gold"},
				Prices: []priceDoc{{"NG", "NGN", "5000"}, {"KE", "KES", "650.50"}}},
			{SKU: "gold-100", Name: "100 Gold", Quantity: "100", DigitalCurrency: currencyDoc{"GLD", "Gold"}, Pay1stProductBundleID: &id,
				Prices: []priceDoc{{"NG", "NGN", "1000"}}},
		}},
		{Name: "Boost", Description: "x2", FulfilmentMethod: "manual", Countries: []string{"NG"}},
	}}
}

func TestDiffCatalog(t *testing.T) {
	t.Parallel()
	mutate := func(f func(d *catalogDoc)) catalogDoc {
		d := normalize(sampleCatalog())
		f(&d)
		return d
	}
	other := int64(7)
	for _, tc := range []struct {
		name  string
		want  catalogDoc
		have  catalogDoc
		prune bool
		diff  []change
	}{
		{"same", sampleCatalog(), sampleCatalog(), true, nil},
		{"order does not matter", sampleCatalog(), mutate(func(d *catalogDoc) {
			d.Products[0], d.Products[1] = d.Products[1], d.Products[0]
			d.Products[0].Countries = []string{"KE", "NG"}
		}), false, nil},
		{"into empty", sampleCatalog(), catalogDoc{}, false, []change{
			{Action: actAdd, Kind: "product", Key: "Boost"}, {Action: actAdd, Kind: "product", Key: "Gold"},
			{Action: actAdd, Kind: "bundle", Key: "gold-100"}, {Action: actAdd, Kind: "bundle", Key: "gold-500"}}},
		{"extra on server kept without prune", catalogDoc{}, sampleCatalog(), false, nil},
		{"extra on server removed with prune", catalogDoc{}, sampleCatalog(), true, []change{
			{Action: actRemove, Kind: "product", Key: "Boost"}, {Action: actRemove, Kind: "product", Key: "Gold"},
			{Action: actRemove, Kind: "bundle", Key: "gold-100"}, {Action: actRemove, Kind: "bundle", Key: "gold-500"}}},
		{"product fields", mutate(func(d *catalogDoc) {
			d.Products[0].Description = ""
			d.Products[0].ImageURL = "https://x/y.png"
			d.Products[0].FulfilmentMethod = "plugin"
			d.Products[0].Countries = []string{"NG", "ZA"}
		}), sampleCatalog(), false, []change{{Action: actChange, Kind: "product", Key: "Boost", Fields: []string{"description", "imageUrl", "fulfilmentMethod", "countries"}}}},
		{"bundle fields", mutate(func(d *catalogDoc) {
			b := &d.Products[1].Bundles[1] // gold-500
			b.Name, b.Quantity, b.DigitalCurrency = "Five hundred", "500.0", currencyDoc{"GLD", "Golden"}
			b.Prices[0].Amount = "651"
			b.Pay1stProductBundleID = &other
		}), sampleCatalog(), false, []change{{Action: actChange, Kind: "bundle", Key: "gold-500", Fields: []string{"name", "quantity", "digitalCurrency", "pay1stProductBundleId", "prices"}}}},
		{"absent pay1st id keeps the server's", mutate(func(d *catalogDoc) {
			d.Products[1].Bundles[0].Pay1stProductBundleID = nil
		}), sampleCatalog(), false, nil},
		{"bundle moves product", mutate(func(d *catalogDoc) {
			g := &d.Products[1]
			d.Products[0].Countries = []string{"KE", "NG"}
			d.Products[0].Bundles = []bundleDoc{g.Bundles[1]}
			g.Bundles = g.Bundles[:1]
		}), sampleCatalog(), false, []change{
			{Action: actChange, Kind: "product", Key: "Boost", Fields: []string{"countries"}},
			{Action: actChange, Kind: "bundle", Key: "gold-500", Fields: []string{"product"}}}},
		{"price order does not matter", mutate(func(d *catalogDoc) {
			p := d.Products[1].Bundles[1].Prices
			p[0], p[1] = p[1], p[0]
		}), sampleCatalog(), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.diff, diffCatalog(tc.want, tc.have, tc.prune))
		})
	}
}

// Export is stable and import reads back exactly what export wrote, in
// both formats.
func TestCatalogEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			a, err := encodeCatalog(sampleCatalog(), format)
			require.NoError(t, err)
			shuffled := sampleCatalog()
			shuffled.Products[0], shuffled.Products[1] = shuffled.Products[1], shuffled.Products[0]
			b, err := encodeCatalog(shuffled, format)
			require.NoError(t, err)
			require.Equal(t, string(a), string(b), "stable order")
			d, err := decodeCatalog(a)
			require.NoError(t, err)
			require.Equal(t, normalize(sampleCatalog()), d)
			require.Empty(t, diffCatalog(d, sampleCatalog(), true))
		})
	}
}

func TestDecodeCatalog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"yaml with unquoted decimals", "products:\n  - name: Gold\n    fulfilmentMethod: manual\n    countries: [NG]\n    bundles:\n      - sku: g1\n        name: G\n        quantity: 100\n        digitalCurrency: {code: G, name: Gold}\n        prices:\n          - {countryCode: NG, currencyCode: NGN, amount: 10.50}\n", true},
		{"json", `{"products":[{"name":"Gold","fulfilmentMethod":"manual","countries":["NG"]}]}`, true},
		{"empty list", "products: []\n", true},
		{"unknown field", "products:\n  - name: Gold\n    colour: red\n", false},
		{"duplicate product", "products:\n  - name: Gold\n  - name: Gold\n", false},
		{"duplicate sku", "products:\n  - name: A\n    bundles: [{sku: x}]\n  - name: B\n    bundles: [{sku: x}]\n", false},
		{"nameless product", "products:\n  - fulfilmentMethod: manual\n", false},
		{"not yaml", "{{{", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := decodeCatalog([]byte(tc.in))
			if !tc.ok {
				require.Equal(t, ExitUsage, ExitCode(err), "%v", err)
				return
			}
			require.NoError(t, err)
			if tc.name == "yaml with unquoted decimals" {
				b := d.Products[0].Bundles[0]
				require.Equal(t, "100", b.Quantity)
				require.Equal(t, "10.50", b.Prices[0].Amount, "decimals stay text, never floats")
			}
		})
	}
}

func TestCatalogFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, path string
		json         bool
		want         string
		ok           bool
	}{
		{"", "", false, "yaml", true},
		{"", "", true, "json", true},
		{"", "c.JSON", false, "json", true},
		{"", "c.yml", true, "yaml", true},
		{"json", "c.yaml", false, "json", true},
		{"toml", "", false, "", false},
	} {
		got, err := catalogFormat(tc.format, tc.path, tc.json)
		if !tc.ok {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%+v", tc)
	}
}

func TestUnionSorted(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"KE", "NG", "ZA"}, unionSorted([]string{"NG", "KE"}, []string{"ZA", "NG"}))
}
