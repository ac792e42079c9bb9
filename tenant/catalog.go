package tenant

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/iso"
)

// The catalog is what a studio sells through Pay1st, per environment:
// products (enabled in some countries, fulfilled by plugin or by hand) and
// their bundles (Pay1st's "product bundles", the partner's SKUs), each with a
// quantity of digital currency and a price per country and currency. Staging
// and production have separate catalogs; promotion copies one to the other.

// ErrInUse refuses to delete (or narrow) something other rows still need: a
// product with bundles, a bundle that payments bought.
var ErrInUse = errors.New("tenant: in use")

// Fulfilment methods of a product.
const (
	// FulfilPlugin credits the player through the environment's active
	// fulfilment plugin.
	FulfilPlugin = "plugin"
	// FulfilManual leaves fulfilment to the studio itself.
	FulfilManual = "manual"
)

// Catalog limits; the API's schema states the same.
const (
	MaxNameLen           = 200
	MaxDescriptionLen    = 2000
	MaxImageURLLen       = 2048
	MaxProductCountries  = 250
	MaxBundlePrices      = 500
	MaxCurrencyNameLen   = 100
	maxInUseExamples     = 5
	maxDecimalIntDigits  = 15
	maxDecimalFracDigits = 8
)

// SKUPattern is the shape of a partner's SKU (Pay1st's
// productBundleExternalId).
const SKUPattern = `^[A-Za-z0-9._-]{1,64}$`

// DigitalCurrencyCodePattern is the shape of a digital currency's code
// ("CRE" for Credits).
const DigitalCurrencyCodePattern = `^[A-Za-z0-9._-]{1,32}$`

// DecimalPattern is the shape of an exact decimal in the API (prices,
// quantities): a JSON string, never a number, so that no client rounds it
// through a float. At most 15 digits before the point and 8 after.
const DecimalPattern = `^(0|[1-9][0-9]{0,14})(\.[0-9]{1,8})?$`

var (
	skuRE          = regexp.MustCompile(SKUPattern)
	currencyCodeRE = regexp.MustCompile(DigitalCurrencyCodePattern)
	decimalRE      = regexp.MustCompile(DecimalPattern)
	decimalLimit   = decimal.New(1, maxDecimalIntDigits)
)

// Product is something a studio sells: its bundles say how much of it for
// what price.
type Product struct {
	ID          int64
	TenantID    int64
	Environment string
	Name        string
	Description string
	ImageURL    string   // "" when none
	Countries   []string // ISO 3166-1 alpha-2, as given
	// FulfilmentMethod is FulfilPlugin or FulfilManual.
	FulfilmentMethod string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// ProductParams are a product's writable fields; an update replaces them all.
type ProductParams struct {
	Name             string
	Description      string
	ImageURL         string
	Countries        []string
	FulfilmentMethod string
}

// Validate checks p for environment env (http image URLs are allowed in
// staging only). Errors name the API field.
func (p ProductParams) Validate(env string) error {
	if err := checkName("name", p.Name); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(p.Description); n > MaxDescriptionLen {
		return &FieldError{Field: "description", Problem: fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)}
	}
	if err := checkImageURL(env, p.ImageURL); err != nil {
		return err
	}
	if len(p.Countries) == 0 || len(p.Countries) > MaxProductCountries {
		return &FieldError{Field: "countries", Problem: fmt.Sprintf("must list 1 to %d countries", MaxProductCountries)}
	}
	seen := make(map[string]bool, len(p.Countries))
	for i, c := range p.Countries {
		field := "countries[" + strconv.Itoa(i) + "]"
		if !iso.ValidCountry(c) {
			return &FieldError{Field: field, Problem: fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code (upper case, e.g. ZA)", c)}
		}
		if seen[c] {
			return &FieldError{Field: field, Problem: c + " is listed twice"}
		}
		seen[c] = true
	}
	if p.FulfilmentMethod != FulfilPlugin && p.FulfilmentMethod != FulfilManual {
		return &FieldError{Field: "fulfilmentMethod", Problem: "must be plugin or manual"}
	}
	return nil
}

func checkName(field, s string) error {
	if n := utf8.RuneCountInString(s); n == 0 || n > MaxNameLen || strings.TrimSpace(s) == "" {
		return &FieldError{Field: field, Problem: fmt.Sprintf("must be 1 to %d characters, not only spaces", MaxNameLen)}
	}
	return nil
}

// checkImageURL accepts "" (no image yet) or an absolute https URL; http
// too in staging, where studios test against local servers.
func checkImageURL(env, s string) error {
	if s == "" {
		return nil
	}
	bad := func(problem string) error { return &FieldError{Field: "imageUrl", Problem: problem} }
	if len(s) > MaxImageURLLen {
		return bad(fmt.Sprintf("must be at most %d bytes", MaxImageURLLen))
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Hostname() == "" || u.Opaque != "" {
		return bad("must be an absolute URL")
	}
	if u.User != nil {
		return bad("must not carry credentials")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && env == Staging:
	case env == Staging:
		return bad("must be https (or http in staging)")
	default:
		return bad("must be https")
	}
	return nil
}

// Price is what a bundle costs in one country and currency.
type Price struct {
	CountryCode  string // ISO 3166-1 alpha-2
	CurrencyCode string // ISO 4217
	Amount       decimal.Decimal
}

// Bundle is one SKU of a product: a quantity of digital currency sold at a
// price per country and currency.
type Bundle struct {
	ID          int64
	TenantID    int64
	Environment string
	ProductID   int64
	// SKU is the partner's own code, Pay1st's productBundleExternalId;
	// unique per tenant environment.
	SKU                 string
	Name                string
	Quantity            decimal.Decimal // Pay1st's tokensPurchased
	DigitalCurrencyName string
	DigitalCurrencyCode string
	// Pay1stBundleID is Pay1st's productBundleId, 0 until the studio sets
	// it; the Summary Webhook names the bundle by it.
	Pay1stBundleID int64
	// Prices in country, then currency order.
	Prices    []Price
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BundleParams are a bundle's writable fields; an update replaces them all,
// prices included.
type BundleParams struct {
	ProductID           int64
	SKU                 string
	Name                string
	Quantity            decimal.Decimal
	DigitalCurrencyName string
	DigitalCurrencyCode string
	Pay1stBundleID      int64 // 0 for none
	Prices              []Price
}

// Validate checks p on its own; that each price's country is one of the
// product's is checked against the product when writing.
func (p BundleParams) Validate() error {
	if p.ProductID <= 0 {
		return &FieldError{Field: "productId", Problem: "must be a product's id"}
	}
	if !skuRE.MatchString(p.SKU) {
		return &FieldError{Field: "sku", Problem: "must match " + SKUPattern}
	}
	if err := checkName("name", p.Name); err != nil {
		return err
	}
	if err := CheckDecimal("quantity", p.Quantity); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(p.DigitalCurrencyName); n == 0 || n > MaxCurrencyNameLen || strings.TrimSpace(p.DigitalCurrencyName) == "" {
		return &FieldError{Field: "digitalCurrency.name", Problem: fmt.Sprintf("must be 1 to %d characters, not only spaces", MaxCurrencyNameLen)}
	}
	if !currencyCodeRE.MatchString(p.DigitalCurrencyCode) {
		return &FieldError{Field: "digitalCurrency.code", Problem: "must match " + DigitalCurrencyCodePattern}
	}
	if p.Pay1stBundleID < 0 {
		return &FieldError{Field: "pay1stProductBundleId", Problem: "must be a positive integer"}
	}
	if len(p.Prices) == 0 || len(p.Prices) > MaxBundlePrices {
		return &FieldError{Field: "prices", Problem: fmt.Sprintf("must list 1 to %d prices", MaxBundlePrices)}
	}
	type pair struct{ country, currency string }
	seen := make(map[pair]int, len(p.Prices))
	for i, pr := range p.Prices {
		field := "prices[" + strconv.Itoa(i) + "]"
		if !iso.ValidCountry(pr.CountryCode) {
			return &FieldError{Field: field + ".countryCode", Problem: fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code (upper case, e.g. ZA)", pr.CountryCode)}
		}
		if !iso.ValidCurrency(pr.CurrencyCode) {
			return &FieldError{Field: field + ".currencyCode", Problem: fmt.Sprintf("%q is not an active ISO 4217 currency code (upper case, e.g. ZAR)", pr.CurrencyCode)}
		}
		if err := CheckDecimal(field+".amount", pr.Amount); err != nil {
			return err
		}
		k := pair{pr.CountryCode, pr.CurrencyCode}
		if j, dup := seen[k]; dup {
			return &FieldError{Field: field, Problem: fmt.Sprintf("%s/%s is priced twice (also prices[%d])", k.country, k.currency, j)}
		}
		seen[k] = i
	}
	return nil
}

// checkPriceCountries checks that every price is for a country the product
// is enabled in.
func checkPriceCountries(prices []Price, product Product) error {
	enabled := make(map[string]bool, len(product.Countries))
	for _, c := range product.Countries {
		enabled[c] = true
	}
	for i, pr := range prices {
		if !enabled[pr.CountryCode] {
			return &FieldError{Field: "prices[" + strconv.Itoa(i) + "].countryCode",
				Problem: pr.CountryCode + " is not one of the product's countries; enable it on the product first"}
		}
	}
	return nil
}

// ParseDecimal reads an API decimal string (DecimalPattern) exactly,
// keeping its scale ("1000.00" stays two places). field names it in the
// error.
func ParseDecimal(field, s string) (decimal.Decimal, error) {
	if !decimalRE.MatchString(s) {
		return decimal.Decimal{}, &FieldError{Field: field,
			Problem: fmt.Sprintf("must be a decimal string like \"1000.00\": digits, at most %d before the point and %d after, no sign or exponent", maxDecimalIntDigits, maxDecimalFracDigits)}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, &FieldError{Field: field, Problem: "must be a decimal string like \"1000.00\""}
	}
	return d, nil
}

// CheckDecimal checks an amount or quantity: greater than zero, at most 15
// digits before the point and 8 after.
func CheckDecimal(field string, d decimal.Decimal) error {
	switch {
	case !d.IsPositive():
		return &FieldError{Field: field, Problem: "must be greater than 0"}
	case d.GreaterThanOrEqual(decimalLimit):
		return &FieldError{Field: field, Problem: fmt.Sprintf("must have at most %d digits before the point", maxDecimalIntDigits)}
	case d.Exponent() < -maxDecimalFracDigits:
		return &FieldError{Field: field, Problem: fmt.Sprintf("must have at most %d digits after the point", maxDecimalFracDigits)}
	}
	return nil
}

// DecimalString formats d with the scale it was given or stored with
// ("1000.00", not "1000"): what the studio wrote comes back unchanged.
func DecimalString(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}

// ProductFilter selects a page of an environment's products in id order.
type ProductFilter struct {
	Limit  int
	Cursor string
}

// ProductPage is one page of products; NextCursor is "" on the last.
type ProductPage struct {
	Products   []Product
	NextCursor string
}

// BundleFilter selects a page of an environment's bundles in id order;
// zero fields select everything.
type BundleFilter struct {
	ProductID      int64
	SKU            string
	Pay1stBundleID int64
	Limit          int
	Cursor         string
}

// BundlePage is one page of bundles; NextCursor is "" on the last.
type BundlePage struct {
	Bundles    []Bundle
	NextCursor string
}
