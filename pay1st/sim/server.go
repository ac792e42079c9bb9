package sim

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/pay1st"
)

// Error codes of the simulator's error bodies ([sim]: Pay1st documents its
// own error body nowhere; the simulator answers in the §6 shape).
const (
	CodeBadCredentials    = "BAD_CREDENTIALS"
	CodeBadToken          = "INVALID_TOKEN"
	CodeBadSignature      = "INVALID_SIGNATURE"
	CodeStaleTimestamp    = "INVALID_TIMESTAMP"
	CodeBadRequest        = "BAD_REQUEST"
	CodeUnsupportedType   = "UNSUPPORTED_MEDIA_TYPE"
	CodeTooLarge          = "PAYLOAD_TOO_LARGE"
	CodeNotFound          = "NOT_FOUND"
	CodeDuplicateRef      = "DUPLICATE_PARTNER_REFERENCE"
	CodeAmountMismatch    = "AMOUNT_MISMATCH"
	CodePaymentNotPaid    = "PAYMENT_NOT_SUCCESSFUL"
	CodeMethodNotAllowed  = "METHOD_NOT_ALLOWED"
	CodeUnknownSKU        = "UNKNOWN_SKU"
	CodeBadFulfilmentLine = "INVALID_FULFILMENT"
)

func (s *Simulator) routes() {
	s.mux.HandleFunc(pay1st.PathToken, s.handle(http.MethodPost, s.token))
	s.mux.HandleFunc(pay1st.PathRefresh, s.handle(http.MethodPost, s.refreshToken))
	s.mux.HandleFunc(pay1st.PathCreate, s.handle(http.MethodPost, s.signed(s.create)))
	s.mux.HandleFunc(pay1st.PathPayments, s.handle(http.MethodGet, s.signed(s.query)))
	s.mux.HandleFunc(pay1st.PathFulfilments, s.handle(http.MethodPost, s.signed(s.fulfil)))
	s.mux.HandleFunc("/", s.handle("", func(*exchange) {}))
	if !s.opts.NoControl {
		s.control()
	}
}

// exchange is one request being served, and what is logged of it.
type exchange struct {
	w       http.ResponseWriter
	r       *http.Request
	body    []byte
	partner *Partner
	log     Request
}

func (x *exchange) fail(status int, code, msg string) {
	x.log.Status, x.log.ErrorCode = status, code
	writeJSON(x.w, status, pay1st.ErrorBody{ErrorMessage: msg, ErrorCode: code, SessionID: randomHex(8)})
}

func (x *exchange) ok(status int, v any) {
	x.log.Status = status
	if v == nil {
		x.w.WriteHeader(status)
		return
	}
	writeJSON(x.w, status, v)
}

// handle reads the body within the limit, checks the method, runs h and
// logs the exchange. method "" answers 404 to everything (unknown paths).
func (s *Simulator) handle(method string, h func(*exchange)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{w: w, r: r, log: Request{
			Time: s.opts.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Signature: r.Header.Get(pay1st.HeaderSignature), Timestamp: r.Header.Get(pay1st.HeaderTimestamp),
		}}
		defer func() {
			s.logRequest(x.log)
			s.logger.Debug("sim request", "method", r.Method, "path", r.URL.Path, "status", x.log.Status,
				"code", x.log.ErrorCode, "partner_code", x.log.PartnerCode, "reference", x.log.Reference)
		}()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
		x.body, x.log.Body = body, body
		var tooBig *http.MaxBytesError
		switch {
		case method == "":
			x.fail(http.StatusNotFound, CodeNotFound, "no such endpoint")
		case errors.As(err, &tooBig):
			x.fail(http.StatusRequestEntityTooLarge, CodeTooLarge, "body too large")
		case err != nil:
			x.fail(http.StatusBadRequest, CodeBadRequest, "could not read the body")
		case r.Method != method:
			w.Header().Set("Allow", method)
			x.fail(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use "+method)
		default:
			h(x)
		}
	}
}

func contentTypeIs(r *http.Request, want ...string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	for _, w := range want {
		if strings.EqualFold(mt, w) {
			return true
		}
	}
	return false
}

// token issues an access token for HTTP Basic API key and secret.
func (s *Simulator) token(x *exchange) {
	key, secret, ok := x.r.BasicAuth()
	s.mu.Lock()
	p := s.partners[key]
	s.mu.Unlock()
	// The secret is compared in constant time whether or not the key exists.
	want := ""
	if p != nil {
		want = p.APISecret
	}
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 || p == nil {
		x.fail(http.StatusUnauthorized, CodeBadCredentials, "bad API key or secret")
		return
	}
	x.log.PartnerCode = p.PartnerCode
	if !contentTypeIs(x.r, pay1st.ContentTypeAuth) {
		x.fail(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type must be "+pay1st.ContentTypeAuth)
		return
	}
	var req struct {
		Role string `json:"role"`
	}
	if json.Unmarshal(x.body, &req) != nil || req.Role != pay1st.RoleAPIUser {
		x.fail(http.StatusBadRequest, CodeBadRequest, `body must be {"role":"API_USER"}`)
		return
	}
	x.ok(http.StatusOK, s.issue(p))
}

// refreshToken swaps a refresh token for new tokens. [sim] Refresh tokens
// are single-use; the old access token stays valid until it expires.
func (s *Simulator) refreshToken(x *exchange) {
	if !contentTypeIs(x.r, pay1st.ContentTypeAuth, pay1st.ContentTypeJSON) {
		x.fail(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type must be "+pay1st.ContentTypeAuth)
		return
	}
	var req struct {
		Role         string `json:"role"`
		RefreshToken string `json:"refreshToken"`
	}
	if json.Unmarshal(x.body, &req) != nil || req.Role != pay1st.RoleAPIUser || req.RefreshToken == "" {
		x.fail(http.StatusBadRequest, CodeBadRequest, `body must be {"role":"API_USER","refreshToken":"..."}`)
		return
	}
	s.mu.Lock()
	t, ok := s.refresh[req.RefreshToken]
	delete(s.refresh, req.RefreshToken)
	s.mu.Unlock()
	if !ok || !s.opts.Now().Before(t.expires) {
		x.fail(http.StatusUnauthorized, CodeBadToken, "unknown or expired refresh token")
		return
	}
	x.log.PartnerCode = t.partner.PartnerCode
	x.ok(http.StatusOK, s.issue(t.partner))
}

type tokenAnswer struct {
	Role         string `json:"role"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

func (s *Simulator) issue(p *Partner) tokenAnswer {
	now := s.opts.Now()
	a := tokenAnswer{Role: pay1st.RoleAPIUser, AccessToken: "at_" + randomHex(24), RefreshToken: "rt_" + randomHex(24)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(now)
	s.access[a.AccessToken] = token{partner: p, expires: now.Add(s.opts.TokenLifetime)}
	s.refresh[a.RefreshToken] = token{partner: p, expires: now.Add(s.opts.RefreshLifetime)}
	return a
}

// dropExpired keeps the token maps from growing without bound under load.
// Called with mu held, at most once per many issues.
func (s *Simulator) dropExpired(now time.Time) {
	s.issued++
	if s.issued%1024 != 0 {
		return
	}
	for k, t := range s.access {
		if !now.Before(t.expires) {
			delete(s.access, k)
		}
	}
	for k, t := range s.refresh {
		if !now.Before(t.expires) {
			delete(s.refresh, k)
		}
	}
}

// signed authenticates a Gateway API call as a strict server would: a known,
// unexpired access token; an X-TIMESTAMP within the window; an X-SIGNATURE
// equal, in constant time, to the HMAC of the timestamp and the exact raw
// body under the partner's Signing Key.
func (s *Simulator) signed(h func(*exchange)) func(*exchange) {
	return func(x *exchange) {
		bearer, ok := strings.CutPrefix(x.r.Header.Get(pay1st.HeaderAccessToken), "Bearer ")
		s.mu.Lock()
		t, known := s.access[bearer]
		s.mu.Unlock()
		if !ok || bearer == "" || !known || !s.opts.Now().Before(t.expires) {
			x.fail(http.StatusUnauthorized, CodeBadToken, "missing, unknown or expired access token")
			return
		}
		x.partner = t.partner
		x.log.PartnerCode = t.partner.PartnerCode
		ts, sig := x.r.Header.Get(pay1st.HeaderTimestamp), x.r.Header.Get(pay1st.HeaderSignature)
		if ts == "" || sig == "" {
			x.fail(http.StatusUnauthorized, CodeBadSignature, "missing X-TIMESTAMP or X-SIGNATURE")
			return
		}
		if err := pay1st.CheckTimestamp(ts, s.opts.Now(), s.opts.TimestampWindow); err != nil {
			x.fail(http.StatusUnauthorized, CodeStaleTimestamp, "X-TIMESTAMP malformed or outside the window")
			return
		}
		if !pay1st.VerifyRequest(t.partner.SigningKey, ts, x.body, sig) {
			x.fail(http.StatusUnauthorized, CodeBadSignature, "signature does not match")
			return
		}
		h(x)
	}
}

// createBody is a Create Payment Request as the simulator reads it: amounts
// exact (json.Number), unknown members ignored.
type createBody struct {
	CountryCode        string            `json:"countryCode"`
	CurrencyCode       string            `json:"currencyCode"`
	Amount             json.Number       `json:"amount"`
	PartnerReference   string            `json:"partnerReference"`
	CallbackSuccessURL string            `json:"callbackSuccessUrl"`
	CallbackFailureURL string            `json:"callbackFailureUrl"`
	CallbackPendingURL string            `json:"callbackPendingUrl"`
	CallbackCancelURL  string            `json:"callbackCancelUrl"`
	WebhookURL         string            `json:"webhookUrl"`
	Products           []pay1st.Product  `json:"products"`
	Metadata           []pay1st.Metadata `json:"metadata"`
}

// create stores a new payment with status NEW. [sim] partnerReference is
// unique forever per partner: a second create with it is refused with 409
// DUPLICATE_PARTNER_REFERENCE, even with an identical body (Pay1st says
// "unique", not "idempotent").
func (s *Simulator) create(x *exchange) {
	if !contentTypeIs(x.r, pay1st.ContentTypePayment) {
		x.fail(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type must be "+pay1st.ContentTypePayment)
		return
	}
	var b createBody
	if err := decodeStrict(x.body, &b); err != nil {
		x.fail(http.StatusBadRequest, CodeBadRequest, "body is not a Create Payment Request: "+err.Error())
		return
	}
	amount, problem := pay1st.ParseAmount(b.Amount.String())
	switch {
	case problem != "":
		x.fail(http.StatusBadRequest, CodeBadRequest, "amount "+problem)
		return
	case b.PartnerReference == "" || len(b.PartnerReference) > pay1st.MaxStringBytes:
		x.fail(http.StatusBadRequest, CodeBadRequest, "partnerReference is required")
		return
	case !upper(b.CountryCode, 2) || !upper(b.CurrencyCode, 3):
		x.fail(http.StatusBadRequest, CodeBadRequest, "countryCode and currencyCode must be ISO codes")
		return
	case len(b.Products) == 0:
		x.fail(http.StatusBadRequest, CodeBadRequest, "products must not be empty")
		return
	}
	total := decimal.Zero
	for _, p := range b.Products {
		if p.SKU == "" || p.Quantity < 1 || p.CurrencyCode != b.CurrencyCode {
			x.fail(http.StatusBadRequest, CodeBadRequest, "every product needs a sku, a quantity ≥ 1 and the payment's currency")
			return
		}
		total = total.Add(p.Price.Mul(decimal.NewFromInt(p.Quantity)))
	}
	if !s.opts.LenientAmounts && !total.Equal(amount) {
		x.fail(http.StatusBadRequest, CodeAmountMismatch, "amount "+amount.String()+" is not the products' total "+total.String())
		return
	}
	now := s.opts.Now().UTC()
	p := &payment{Payment: Payment{
		Reference: "C-" + randomHex(12) + "-P", PartnerReference: b.PartnerReference,
		PartnerCode: x.partner.PartnerCode, PartnerID: x.partner.PartnerID,
		Amount: amount, CurrencyCode: b.CurrencyCode, CountryCode: b.CountryCode,
		Products: b.Products, Metadata: b.Metadata, WebhookURL: b.WebhookURL,
		CallbackURLs: map[string]string{"success": b.CallbackSuccessURL, "failure": b.CallbackFailureURL,
			"pending": b.CallbackPendingURL, "cancel": b.CallbackCancelURL},
		Status: pay1st.StatusNew, CreatedDate: now, UpdatedDate: now,
	}}
	key := p.PartnerCode + "\x00" + p.PartnerReference
	s.mu.Lock()
	if _, dup := s.byPartRef[key]; dup {
		s.mu.Unlock()
		x.fail(http.StatusConflict, CodeDuplicateRef, "partnerReference was used before")
		return
	}
	p.History = []pay1st.PaymentEvent{s.eventLocked(p)}
	s.payments[p.Reference], s.byPartRef[key] = p, p.Reference
	s.mu.Unlock()
	x.log.Reference = p.Reference
	x.ok(http.StatusOK, map[string]any{
		"reference": p.Reference, "partnerReference": p.PartnerReference, "countryCode": p.CountryCode,
		"currencyCode": p.CurrencyCode, "amount": json.Number(amount.String()), "status": p.Status,
	})
}

// query answers the payment's current state as a §1 event. Another
// partner's payment is not found.
func (s *Simulator) query(x *exchange) {
	ref := x.r.URL.Query().Get("reference")
	x.log.Reference = ref
	s.mu.Lock()
	p := s.payments[ref]
	var ev pay1st.PaymentEvent
	if p != nil && p.PartnerCode == x.partner.PartnerCode {
		ev = s.eventLocked(p)
	}
	s.mu.Unlock()
	if ev.Reference == "" {
		x.fail(http.StatusNotFound, CodeNotFound, "no payment with this reference")
		return
	}
	x.ok(http.StatusOK, ev)
}

// fulfil records a Fulfilment Completion. [sim] It is refused unless the
// payment was SUCCESSFUL at some point, and each line must name one of the
// payment's SKUs with status FULFILLED and a quantity ≥ 1. Reports are
// recorded every time, so a test can see a duplicate report.
func (s *Simulator) fulfil(x *exchange) {
	var f pay1st.Fulfilment
	if err := decodeStrict(x.body, &f); err != nil || f.Reference == "" || len(f.Products) == 0 {
		x.fail(http.StatusBadRequest, CodeBadRequest, "body must be {reference, products:[{sku, fulfilmentStatus, quantity, fulfilmentTime}]}")
		return
	}
	x.log.Reference = f.Reference
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.payments[f.Reference]
	if p == nil || p.PartnerCode != x.partner.PartnerCode {
		x.fail(http.StatusNotFound, CodeNotFound, "no payment with this reference")
		return
	}
	if !p.everPaid {
		x.fail(http.StatusConflict, CodePaymentNotPaid, "the payment is "+string(p.Status)+", never SUCCESSFUL")
		return
	}
	for _, line := range f.Products {
		if line.FulfilmentStatus != pay1st.FulfilmentStatusFulfilled || line.Quantity < 1 {
			x.fail(http.StatusBadRequest, CodeBadFulfilmentLine, "each product needs fulfilmentStatus FULFILLED and a quantity ≥ 1")
			return
		}
		if !hasSKU(p.Products, line.SKU) {
			x.fail(http.StatusBadRequest, CodeUnknownSKU, "sku "+line.SKU+" is not in this payment")
			return
		}
	}
	p.Fulfilments = append(p.Fulfilments, f)
	x.ok(http.StatusOK, nil)
}

func hasSKU(products []pay1st.Product, sku string) bool {
	for _, p := range products {
		if p.SKU == sku {
			return true
		}
	}
	return false
}

func upper(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range n {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// decodeStrict decodes one JSON value with exact numbers and nothing after.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
