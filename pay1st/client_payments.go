package pay1st

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// CreatePaymentRequest is the Create Payment Request (protocol §5). Amounts
// are exact decimals in major units; they are written as bare JSON numbers.
type CreatePaymentRequest struct {
	CountryCode      string
	CurrencyCode     string
	Amount           decimal.Decimal
	PartnerReference string // unique for the integration's lifetime
	// Optional per-payment overrides of the environment's URLs.
	CallbackSuccessURL string
	CallbackFailureURL string
	CallbackPendingURL string
	CallbackCancelURL  string
	WebhookURL         string
	Products           []Product
	Metadata           []Metadata
}

// Product is one line of a payment.
type Product struct {
	Title        string          `json:"title"`
	SKU          string          `json:"sku"`
	Price        decimal.Decimal `json:"price"`
	Quantity     int64           `json:"quantity"`
	CurrencyCode string          `json:"currencyCode"`
}

// Metadata is a free key/value pair attached to a payment.
type Metadata struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// MarshalJSON writes the request as the published example does: members in
// its order, optional URLs omitted when empty, amounts exact.
func (r CreatePaymentRequest) MarshalJSON() ([]byte, error) {
	type product struct {
		Title        string      `json:"title"`
		SKU          string      `json:"sku"`
		Price        json.Number `json:"price"`
		Quantity     int64       `json:"quantity"`
		CurrencyCode string      `json:"currencyCode"`
	}
	products := make([]product, len(r.Products))
	for i, p := range r.Products {
		products[i] = product{p.Title, p.SKU, exactNumber(p.Price), p.Quantity, p.CurrencyCode}
	}
	w := struct {
		CountryCode        string      `json:"countryCode"`
		CurrencyCode       string      `json:"currencyCode"`
		Amount             json.Number `json:"amount"`
		PartnerReference   string      `json:"partnerReference"`
		CallbackSuccessURL string      `json:"callbackSuccessUrl,omitempty"`
		CallbackFailureURL string      `json:"callbackFailureUrl,omitempty"`
		CallbackPendingURL string      `json:"callbackPendingUrl,omitempty"`
		CallbackCancelURL  string      `json:"callbackCancelUrl,omitempty"`
		WebhookURL         string      `json:"webhookUrl,omitempty"`
		Products           []product   `json:"products"`
		Metadata           []Metadata  `json:"metadata,omitempty"`
	}{r.CountryCode, r.CurrencyCode, exactNumber(r.Amount), r.PartnerReference,
		r.CallbackSuccessURL, r.CallbackFailureURL, r.CallbackPendingURL, r.CallbackCancelURL, r.WebhookURL,
		products, r.Metadata}
	// The published example keeps '<' and '>' as they are; so must we, or
	// the bytes we sign would differ from what a partner's tooling shows.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// MarshalJSON writes the price exactly.
func (p Product) MarshalJSON() ([]byte, error) {
	type wire struct {
		Title        string      `json:"title"`
		SKU          string      `json:"sku"`
		Price        json.Number `json:"price"`
		Quantity     int64       `json:"quantity"`
		CurrencyCode string      `json:"currencyCode"`
	}
	return json.Marshal(wire{p.Title, p.SKU, exactNumber(p.Price), p.Quantity, p.CurrencyCode})
}

// UnmarshalJSON reads the price exactly, never through float64.
func (p *Product) UnmarshalJSON(data []byte) error {
	var w struct {
		Title        string      `json:"title"`
		SKU          string      `json:"sku"`
		Price        json.Number `json:"price"`
		Quantity     int64       `json:"quantity"`
		CurrencyCode string      `json:"currencyCode"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	price, problem := ParseAmount(string(w.Price))
	if problem != "" {
		return &FieldError{Field: "price", Problem: problem}
	}
	*p = Product{Title: w.Title, SKU: w.SKU, Price: price, Quantity: w.Quantity, CurrencyCode: w.CurrencyCode}
	return nil
}

func exactNumber(d decimal.Decimal) json.Number { return json.Number(shapeOfDecimal(d).String()) }

// CreatedPayment is Pay1st's answer to a Create Payment Request.
type CreatedPayment struct {
	Reference        string
	PartnerReference string
	CountryCode      string
	CurrencyCode     string
	Amount           decimal.Decimal
	Status           Status
}

// CreatePayment creates a payment (POST /api/pay1st/payments/create). A
// network failure is retried with the same partnerReference; Pay1st refuses
// a partnerReference it has seen (ErrConflict or ErrBadRequest), so a
// retried create whose first answer was lost fails rather than creating
// twice: the caller then treats the payment as possibly created.
func (c *Client) CreatePayment(ctx context.Context, creds Credentials, req CreatePaymentRequest) (CreatedPayment, error) {
	if req.PartnerReference == "" {
		return CreatedPayment{}, fmt.Errorf("pay1st: create payment: %w: partnerReference is required", ErrBadRequest)
	}
	body, err := req.MarshalJSON()
	if err != nil {
		return CreatedPayment{}, fmt.Errorf("pay1st: create payment: %w", err)
	}
	resp, err := c.do(ctx, creds, call{op: "create payment", method: http.MethodPost, path: PathCreate,
		contentType: ContentTypePayment, body: body})
	if err != nil {
		return CreatedPayment{}, err
	}
	var w struct {
		Reference        string      `json:"reference"`
		PartnerReference string      `json:"partnerReference"`
		CountryCode      string      `json:"countryCode"`
		CurrencyCode     string      `json:"currencyCode"`
		Amount           json.Number `json:"amount"`
		Status           Status      `json:"status"`
	}
	dec := json.NewDecoder(bytes.NewReader(resp))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return CreatedPayment{}, fmt.Errorf("pay1st: create payment: %w: not the JSON expected", ErrBadResponse)
	}
	amount, problem := ParseAmount(string(w.Amount))
	if w.Reference == "" || problem != "" {
		return CreatedPayment{}, fmt.Errorf("pay1st: create payment: %w: missing reference or bad amount", ErrBadResponse)
	}
	return CreatedPayment{Reference: w.Reference, PartnerReference: w.PartnerReference, CountryCode: w.CountryCode,
		CurrencyCode: w.CurrencyCode, Amount: amount, Status: w.Status}, nil
}

// CheckoutURL is the link the customer follows to pay (protocol §5):
// <checkout base>/checkout?channelId=&reference=&accessToken=. It holds an
// access token: hand it to the customer, never log it.
func (c *Client) CheckoutURL(reference, channelID, accessToken string) string {
	q := url.Values{}
	q.Set("channelId", channelID)
	q.Set("reference", reference)
	q.Set("accessToken", accessToken)
	return strings.TrimRight(c.cfg.CheckoutBaseURL, "/") + "/checkout?" + q.Encode()
}

// QueryPayment asks Pay1st for a payment's current state (GET
// /api/pay1st/payments?reference=). The answer is read as a Payment Webhook
// Event (§1), so reconciliation feeds it to the same state machine as
// webhooks; see ParsePaymentState for what must be present.
func (c *Client) QueryPayment(ctx context.Context, creds Credentials, reference string) (PaymentEvent, error) {
	if reference == "" {
		return PaymentEvent{}, fmt.Errorf("pay1st: query payment: %w: reference is required", ErrBadRequest)
	}
	resp, err := c.do(ctx, creds, call{op: "query payment", method: http.MethodGet, path: PathPayments,
		query: url.Values{"reference": {reference}}})
	if err != nil {
		return PaymentEvent{}, err
	}
	ev, err := ParsePaymentState(resp)
	if err != nil {
		return PaymentEvent{}, fmt.Errorf("pay1st: query payment: %w: %w", ErrBadResponse, err)
	}
	if ev.Reference != reference {
		return PaymentEvent{}, fmt.Errorf("pay1st: query payment: %w: answer is about another reference", ErrBadResponse)
	}
	return ev, nil
}

// FulfilmentStatusFulfilled is the only fulfilment status partnerhub reports.
const FulfilmentStatusFulfilled = "FULFILLED"

// Fulfilment is a Fulfilment Completion report (protocol §5).
type Fulfilment struct {
	Reference string              `json:"reference"`
	Products  []FulfilmentProduct `json:"products"`
}

// FulfilmentProduct reports one product of a payment as delivered.
type FulfilmentProduct struct {
	SKU              string    `json:"sku"`
	FulfilmentStatus string    `json:"fulfilmentStatus"` // FulfilmentStatusFulfilled when empty
	Quantity         int64     `json:"quantity"`
	FulfilmentTime   time.Time `json:"fulfilmentTime"` // written as RFC 3339 in UTC
}

// MarshalJSON writes the time in UTC with up to nanoseconds.
func (p FulfilmentProduct) MarshalJSON() ([]byte, error) {
	status := p.FulfilmentStatus
	if status == "" {
		status = FulfilmentStatusFulfilled
	}
	return json.Marshal(struct {
		SKU              string `json:"sku"`
		FulfilmentStatus string `json:"fulfilmentStatus"`
		Quantity         int64  `json:"quantity"`
		FulfilmentTime   string `json:"fulfilmentTime"`
	}{p.SKU, status, p.Quantity, p.FulfilmentTime.UTC().Format(time.RFC3339Nano)})
}

// UnmarshalJSON accepts the date-times ParseTime does.
func (p *FulfilmentProduct) UnmarshalJSON(data []byte) error {
	var w struct {
		SKU              string `json:"sku"`
		FulfilmentStatus string `json:"fulfilmentStatus"`
		Quantity         int64  `json:"quantity"`
		FulfilmentTime   string `json:"fulfilmentTime"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	t, err := ParseTime(w.FulfilmentTime)
	if err != nil {
		return &FieldError{Field: "fulfilmentTime", Problem: "is not an accepted date-time"}
	}
	*p = FulfilmentProduct{SKU: w.SKU, FulfilmentStatus: w.FulfilmentStatus, Quantity: w.Quantity, FulfilmentTime: t}
	return nil
}

// CompleteFulfilment reports a payment's products as delivered (POST
// /api/pay1st/payments/fulfilments). Pay1st answers with an empty body.
// Reporting twice is the caller's concern: Pay1st documents no idempotency.
func (c *Client) CompleteFulfilment(ctx context.Context, creds Credentials, f Fulfilment) error {
	if f.Reference == "" || len(f.Products) == 0 {
		return fmt.Errorf("pay1st: complete fulfilment: %w: reference and products are required", ErrBadRequest)
	}
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("pay1st: complete fulfilment: %w", err)
	}
	// Pay1st documents no idempotency for it: a 2xx is accepted whatever
	// its body, and a try that timed out is left to the caller's retries
	// (the report job's backoff) rather than sent again at once.
	_, err = c.do(ctx, creds, call{op: "complete fulfilment", method: http.MethodPost, path: PathFulfilments,
		contentType: ContentTypeJSON, body: body, ignoreReply: true, noResendOnTimeout: true})
	return err
}
