package payment

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Orders are the payments partnerhub creates at the Pay1st Gateway for a
// tenant (gateway create payment): priced from the environment's catalog,
// stored before Pay1st is called, idempotent on the partner's reference.

// Order statuses (migration 0010).
const (
	// OrderCreating: stored; Pay1st is being called, or its answer was lost
	// or it failed transiently. The same request again retries.
	OrderCreating = "creating"
	// OrderCreated: Pay1st answered with the payment's reference.
	OrderCreated = "created"
	// OrderUnknown: Pay1st refused the request after an earlier call may
	// have reached it unanswered (a lost answer, a 5xx): the payment may
	// exist, but nobody has its checkout link. Pay1st is never asked again
	// for it; its webhook (or reconciliation) may still teach its
	// reference, and then it is created.
	OrderUnknown = "unknown"
	// OrderFailed: Pay1st refused the request (4xx) and no earlier call
	// may have created it. The same request again retries.
	OrderFailed = "failed"
	// OrderFlagged: Pay1st's create answered another reference than an
	// event had taught the order. It keeps the first; an operator must
	// look (its payments are held).
	OrderFlagged = "flagged"
)

// Limits of an order; the API's schema states the same.
const (
	MaxOrderLines    = 50
	MaxOrderQuantity = 1000
	// MaxPartnerReferenceLen bounds partnerReference, in bytes.
	MaxPartnerReferenceLen = 128
	// PartnerReferencePattern keeps the reference usable in a URL path.
	PartnerReferencePattern = `^[A-Za-z0-9._~:-]{1,128}$`
	// DefaultOrderCallTimeout bounds one create-order request from its
	// start (credentials, catalog, every Pay1st call and retry, the
	// checkout link's token) unless Checkout says otherwise; the order is
	// reserved for that request orderLeaseMargin longer.
	DefaultOrderCallTimeout = 50 * time.Second
	orderLeaseMargin        = 10 * time.Second
	// RateLimitedRetryAfter is how long a caller is told to wait when
	// Pay1st answered 429 (its answer says nothing of when).
	RateLimitedRetryAfter = 5 * time.Second
	// maxLastError bounds the stored reason of a failed call.
	maxLastError = 1024
)

var (
	partnerReferenceRE = regexp.MustCompile(PartnerReferencePattern)
	countryRE          = regexp.MustCompile(`^[A-Z]{2}$`)
	currencyRE         = regexp.MustCompile(`^[A-Z]{3}$`)
	skuRE              = regexp.MustCompile(tenant.SKUPattern)
	amountLimit        = decimal.New(1, 15)
)

// Errors of orders.
var (
	// ErrOrderConflict: the partnerReference belongs to an order with
	// another request body.
	ErrOrderConflict = errors.New("payment: partnerReference is already used by an order with other contents")
	// ErrOrderUnknown: the order is unknown (OrderUnknown): the payment
	// may exist; use a new partnerReference.
	ErrOrderUnknown = errors.New("payment: order outcome unknown")
	// ErrOrderFlagged: the order needs an operator (OrderFlagged).
	ErrOrderFlagged = errors.New("payment: order is flagged for review")
	// ErrOrderBusy: another request is calling Pay1st for this order now
	// (wrapped in a *RetryLaterError).
	ErrOrderBusy = errors.New("payment: order is being created by another request")
	// ErrOrdersDisabled: the Service was not given its Checkout
	// dependencies (SetCheckout).
	ErrOrdersDisabled = errors.New("payment: orders are not configured")
)

// RetryLaterError says the same request may succeed after After: the
// order is kept as it was (another request holds it, or Pay1st is rate
// limiting).
type RetryLaterError struct {
	After time.Duration
	Err   error
}

func (e *RetryLaterError) Error() string { return e.Err.Error() }
func (e *RetryLaterError) Unwrap() error { return e.Err }

// Order is a payment partnerhub created (or is creating) at Pay1st.
type Order struct {
	ID               int64
	TenantID         int64
	Env              string
	PartnerReference string
	Gateway          string // pay1st.GatewayPay1st or pay1st.GatewaySimulator
	Reference        string // Pay1st's; "" until created
	Status           string // Order* constants
	CountryCode      string
	CurrencyCode     string
	Amount           decimal.Decimal
	CustomerID       int64
	Items            []OrderItem
	LastError        string // why the last Pay1st call failed; Pay1st's words, no secret
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// PaymentStatus is the payment's current status as webhooks told it,
	// "" before the first event. Read-only, from the payments table.
	PaymentStatus string
	// CheckoutURL is the customer's checkout link, built when create-order
	// answers (never stored, never logged: it holds a Pay1st access token).
	CheckoutURL string
}

// LogValue keeps the checkout link (an access token) out of logs.
func (o Order) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("order_id", o.ID), slog.String("env", o.Env),
		slog.String("partner_reference", o.PartnerReference), slog.String("reference", o.Reference),
		slog.String("status", o.Status))
}

// OrderItem is one line of an order, priced from the catalog when the order
// was made.
type OrderItem struct {
	SKU      string
	Title    string // the bundle's name
	Quantity int64
	Price    decimal.Decimal // of one unit, in the order's currency
	// DigitalCurrencyCode, DigitalCurrencyName and DigitalAmount (per unit)
	// are what fulfilment credits.
	DigitalCurrencyCode string
	DigitalCurrencyName string
	DigitalAmount       decimal.Decimal
}

// OrderLine is one product asked for.
type OrderLine struct {
	SKU      string
	Quantity int64
}

// OrderRequest is what create-order asks for.
type OrderRequest struct {
	PartnerReference string
	CustomerID       int64
	CountryCode      string
	// CurrencyCode may be empty when the products have prices in one
	// currency only for CountryCode.
	CurrencyCode string
	Products     []OrderLine
	// Gateway is pay1st.GatewayPay1st when empty.
	Gateway string
}

// Validate checks the request on its own (the catalog is checked when
// pricing). Problems name the API field.
func (r OrderRequest) Validate() error {
	bad := func(field, problem string) error { return &tenant.FieldError{Field: field, Problem: problem} }
	switch {
	case !partnerReferenceRE.MatchString(r.PartnerReference):
		return bad("partnerReference", "must be 1 to 128 of A-Z a-z 0-9 . _ ~ : -")
	case r.CustomerID <= 0:
		return bad("customer.id", "must be a positive integer (Pay1st's customerId)")
	case !countryRE.MatchString(r.CountryCode):
		return bad("countryCode", "must be an ISO 3166-1 alpha-2 code in capitals")
	case r.CurrencyCode != "" && !currencyRE.MatchString(r.CurrencyCode):
		return bad("currencyCode", "must be an ISO 4217 code in capitals")
	case len(r.Products) == 0 || len(r.Products) > MaxOrderLines:
		return bad("products", fmt.Sprintf("must have 1 to %d lines", MaxOrderLines))
	case r.Gateway != "" && r.Gateway != pay1st.GatewayPay1st && r.Gateway != pay1st.GatewaySimulator:
		return bad("gateway", "must be pay1st or simulator")
	}
	seen := make(map[string]bool, len(r.Products))
	for i, l := range r.Products {
		field := "products[" + strconv.Itoa(i) + "]"
		switch {
		case !skuRE.MatchString(l.SKU):
			return bad(field+".sku", "is not a SKU")
		case l.Quantity < 1 || l.Quantity > MaxOrderQuantity:
			return bad(field+".quantity", fmt.Sprintf("must be 1 to %d (SKU %s)", MaxOrderQuantity, l.SKU))
		case seen[l.SKU]:
			return bad(field+".sku", "SKU "+l.SKU+" is listed twice; give one line with the total quantity")
		}
		seen[l.SKU] = true
	}
	return nil
}

func (r OrderRequest) gateway() string {
	if r.Gateway == "" {
		return pay1st.GatewayPay1st
	}
	return r.Gateway
}

// hash identifies the request's meaning: the same partnerReference with
// another hash is another order (ErrOrderConflict).
func (r OrderRequest) hash() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "v1\x00%s\x00%d\x00%s\x00%s\x00%s", r.gateway(), r.CustomerID, r.CountryCode, r.CurrencyCode, r.PartnerReference)
	for _, l := range r.Products {
		fmt.Fprintf(&b, "\x00%s\x00%d", l.SKU, l.Quantity)
	}
	h := sha256.Sum256([]byte(b.String()))
	return h[:]
}

// price turns the request's lines into order items from the catalog: every
// SKU known, its product sold in the country, a price in the currency
// (the one currency all lines share there when none was given). Errors are
// FieldErrors naming the SKU.
func price(r OrderRequest, bundles map[string]tenant.SaleBundle) (items []OrderItem, currency string, amount decimal.Decimal, err error) {
	bad := func(i int, problem string) error {
		return &tenant.FieldError{Field: "products[" + strconv.Itoa(i) + "].sku", Problem: problem}
	}
	currency = r.CurrencyCode
	if currency == "" {
		if currency, err = commonCurrency(r, bundles); err != nil {
			return nil, "", decimal.Zero, err
		}
	}
	amount = decimal.Zero
	for i, l := range r.Products {
		b, ok := bundles[l.SKU]
		if !ok {
			return nil, "", decimal.Zero, bad(i, "SKU "+l.SKU+" is not in this environment's catalog")
		}
		if !containsString(b.ProductCountries, r.CountryCode) {
			return nil, "", decimal.Zero, bad(i, "SKU "+l.SKU+"'s product is not sold in "+r.CountryCode)
		}
		p, ok := priceIn(b.Prices, r.CountryCode, currency)
		if !ok {
			return nil, "", decimal.Zero, bad(i, "SKU "+l.SKU+" has no price in "+r.CountryCode+"/"+currency)
		}
		items = append(items, OrderItem{SKU: b.SKU, Title: b.Name, Quantity: l.Quantity, Price: p,
			DigitalCurrencyCode: b.DigitalCurrencyCode, DigitalCurrencyName: b.DigitalCurrencyName, DigitalAmount: b.Quantity})
		amount = amount.Add(p.Mul(decimal.NewFromInt(l.Quantity)))
	}
	if amount.GreaterThanOrEqual(amountLimit) {
		return nil, "", decimal.Zero, &tenant.FieldError{Field: "products", Problem: "the order's total is too large"}
	}
	return items, currency, amount, nil
}

// commonCurrency is the one currency every line has a price in for the
// country; the first line without one is named.
func commonCurrency(r OrderRequest, bundles map[string]tenant.SaleBundle) (string, error) {
	var common []string
	for i, l := range r.Products {
		b, ok := bundles[l.SKU]
		if !ok {
			return "", &tenant.FieldError{Field: "products[" + strconv.Itoa(i) + "].sku", Problem: "SKU " + l.SKU + " is not in this environment's catalog"}
		}
		var here []string
		for _, p := range b.Prices {
			if p.CountryCode == r.CountryCode && (i == 0 || containsString(common, p.CurrencyCode)) {
				here = append(here, p.CurrencyCode)
			}
		}
		if len(here) == 0 {
			return "", &tenant.FieldError{Field: "products[" + strconv.Itoa(i) + "].sku",
				Problem: "SKU " + l.SKU + " has no price in " + r.CountryCode + " in a currency shared by the other lines"}
		}
		common = here
	}
	if len(common) > 1 {
		return "", &tenant.FieldError{Field: "currencyCode",
			Problem: "the products have prices in " + strings.Join(common, ", ") + " for " + r.CountryCode + "; name one"}
	}
	return common[0], nil
}

func priceIn(prices []tenant.Price, country, currency string) (decimal.Decimal, bool) {
	for _, p := range prices {
		if p.CountryCode == country && p.CurrencyCode == currency {
			return p.Amount, true
		}
	}
	return decimal.Zero, false
}

func containsString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// OrderPage is a page of orders, newest first.
type OrderPage struct {
	Orders     []Order
	NextCursor string
}

// clip keeps at most n bytes of s, on a rune boundary.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
