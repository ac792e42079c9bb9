package cli

import (
	"cmp"
	"slices"
	"strings"
)

// The catalog file: products by name, each with its bundles by SKU. Names
// and SKUs identify items across environments and servers (ids do not), the
// same keys promotion matches on. Export writes it in a stable order
// (normalize), so two exports of the same catalog are byte-identical.

type catalogDoc struct {
	Products []productDoc `json:"products" yaml:"products"`
}

type productDoc struct {
	Name             string      `json:"name" yaml:"name"`
	Description      string      `json:"description,omitempty" yaml:"description,omitempty"`
	ImageURL         string      `json:"imageUrl,omitempty" yaml:"imageUrl,omitempty"`
	FulfilmentMethod string      `json:"fulfilmentMethod" yaml:"fulfilmentMethod"`
	Countries        []string    `json:"countries" yaml:"countries,flow"`
	Bundles          []bundleDoc `json:"bundles,omitempty" yaml:"bundles,omitempty"`
}

type bundleDoc struct {
	SKU             string      `json:"sku" yaml:"sku"`
	Name            string      `json:"name" yaml:"name"`
	Quantity        string      `json:"quantity" yaml:"quantity"`
	DigitalCurrency currencyDoc `json:"digitalCurrency" yaml:"digitalCurrency,flow"`
	// Pay1stProductBundleID: absent in a file means "leave as it is" (each
	// environment's Pay1st Console has its own ids).
	Pay1stProductBundleID *int64     `json:"pay1stProductBundleId,omitempty" yaml:"pay1stProductBundleId,omitempty"`
	Prices                []priceDoc `json:"prices" yaml:"prices"`
}

type currencyDoc struct {
	Code string `json:"code" yaml:"code"`
	Name string `json:"name" yaml:"name"`
}

type priceDoc struct {
	CountryCode  string `json:"countryCode" yaml:"countryCode"`
	CurrencyCode string `json:"currencyCode" yaml:"currencyCode"`
	Amount       string `json:"amount" yaml:"amount"`
}

// normalize sorts everything into the file's stable order: products by
// name, bundles by SKU, countries, prices by country then currency.
func normalize(d catalogDoc) catalogDoc {
	out := catalogDoc{Products: make([]productDoc, 0, len(d.Products))}
	for _, p := range d.Products {
		p.Countries = slices.Sorted(slices.Values(p.Countries))
		bs := make([]bundleDoc, 0, len(p.Bundles))
		for _, b := range p.Bundles {
			b.Prices = slices.Clone(b.Prices)
			slices.SortFunc(b.Prices, func(x, y priceDoc) int {
				return cmp.Or(cmp.Compare(x.CountryCode, y.CountryCode), cmp.Compare(x.CurrencyCode, y.CurrencyCode))
			})
			bs = append(bs, b)
		}
		slices.SortFunc(bs, func(x, y bundleDoc) int { return cmp.Compare(x.SKU, y.SKU) })
		p.Bundles = bs
		out.Products = append(out.Products, p)
	}
	slices.SortFunc(out.Products, func(x, y productDoc) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

// validateDoc refuses a file that names a product or SKU twice: the diff
// would be ambiguous.
func validateDoc(d catalogDoc) error {
	names, skus := map[string]bool{}, map[string]bool{}
	for _, p := range d.Products {
		if p.Name == "" {
			return usageErrorf("catalog: a product without a name")
		}
		if names[p.Name] {
			return usageErrorf("catalog: product %q appears twice", p.Name)
		}
		names[p.Name] = true
		for _, b := range p.Bundles {
			if b.SKU == "" {
				return usageErrorf("catalog: product %q has a bundle without a sku", p.Name)
			}
			if skus[b.SKU] {
				return usageErrorf("catalog: sku %q appears twice", b.SKU)
			}
			skus[b.SKU] = true
		}
	}
	return nil
}

// Change actions of a catalog diff.
const (
	actAdd    = "add"
	actChange = "change"
	actRemove = "remove"
)

// change is one line of a diff: what happens to which item.
type change struct {
	Action string   `json:"action"`
	Kind   string   `json:"kind"` // product, bundle
	Key    string   `json:"key"`  // product name or bundle SKU
	Fields []string `json:"fields,omitempty"`
}

// diffCatalog lists what importing want over have does: products and
// bundles to add and to change (with the fields), and with prune those to
// remove (items of have that want lacks). Without prune nothing is removed.
// Order: products then bundles, each by key; both docs normalized first.
func diffCatalog(want, have catalogDoc, prune bool) []change {
	want, have = normalize(want), normalize(have)
	haveP := map[string]productDoc{}
	haveB := map[string]bundleDoc{}
	haveBP := map[string]string{} // sku -> product name
	for _, p := range have.Products {
		haveP[p.Name] = p
		for _, b := range p.Bundles {
			haveB[b.SKU], haveBP[b.SKU] = b, p.Name
		}
	}
	var products, bundles []change
	wantP, wantB := map[string]bool{}, map[string]bool{}
	for _, p := range want.Products {
		wantP[p.Name] = true
		if hp, ok := haveP[p.Name]; !ok {
			products = append(products, change{Action: actAdd, Kind: "product", Key: p.Name})
		} else if f := productFields(p, hp); len(f) > 0 {
			products = append(products, change{Action: actChange, Kind: "product", Key: p.Name, Fields: f})
		}
		for _, b := range p.Bundles {
			wantB[b.SKU] = true
			hb, ok := haveB[b.SKU]
			if !ok {
				bundles = append(bundles, change{Action: actAdd, Kind: "bundle", Key: b.SKU})
				continue
			}
			f := bundleFields(b, hb)
			if haveBP[b.SKU] != p.Name {
				f = append([]string{"product"}, f...)
			}
			if len(f) > 0 {
				bundles = append(bundles, change{Action: actChange, Kind: "bundle", Key: b.SKU, Fields: f})
			}
		}
	}
	if prune {
		for _, p := range have.Products {
			if !wantP[p.Name] {
				products = append(products, change{Action: actRemove, Kind: "product", Key: p.Name})
			}
			for _, b := range p.Bundles {
				if !wantB[b.SKU] {
					bundles = append(bundles, change{Action: actRemove, Kind: "bundle", Key: b.SKU})
				}
			}
		}
	}
	byKey := func(x, y change) int { return cmp.Compare(x.Key, y.Key) }
	slices.SortStableFunc(products, byKey)
	slices.SortStableFunc(bundles, byKey)
	return append(products, bundles...)
}

func productFields(a, b productDoc) []string {
	var f []string
	if a.Description != b.Description {
		f = append(f, "description")
	}
	if a.ImageURL != b.ImageURL {
		f = append(f, "imageUrl")
	}
	if a.FulfilmentMethod != b.FulfilmentMethod {
		f = append(f, "fulfilmentMethod")
	}
	if !slices.Equal(a.Countries, b.Countries) {
		f = append(f, "countries")
	}
	return f
}

func bundleFields(a, b bundleDoc) []string {
	var f []string
	if a.Name != b.Name {
		f = append(f, "name")
	}
	if a.Quantity != b.Quantity {
		f = append(f, "quantity")
	}
	if a.DigitalCurrency != b.DigitalCurrency {
		f = append(f, "digitalCurrency")
	}
	if a.Pay1stProductBundleID != nil && (b.Pay1stProductBundleID == nil || *a.Pay1stProductBundleID != *b.Pay1stProductBundleID) {
		f = append(f, "pay1stProductBundleId")
	}
	if !slices.Equal(a.Prices, b.Prices) {
		f = append(f, "prices")
	}
	return f
}

// changeRows renders a diff as table rows.
func changeRows(cs []change) [][]string {
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{c.Action, c.Kind, c.Key, strings.Join(c.Fields, ",")})
	}
	return rows
}

var changeHeaders = []string{"ACTION", "KIND", "KEY", "FIELDS"}
