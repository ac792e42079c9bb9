package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// Request headers. The body is signed; the headers only help routing.
const (
	headerTimestamp   = "X-Partnerhub-Timestamp"
	headerSignature   = "X-Partnerhub-Signature"
	headerEvent       = "X-Partnerhub-Event"
	headerIdempotency = "Idempotency-Key"
)

// Event types, in the body's "type" and the X-Partnerhub-Event header.
const (
	eventFulfil     = "fulfil"
	eventReverse    = "reverse"
	eventLookupUser = "lookup_user"
)

// maxReasonLength bounds the backend's reason carried into a result: it is
// stored with the attempt and shown to operators.
const maxReasonLength = 200

// event is the JSON body of every request. Amounts are decimal strings, so
// no JSON library on the studio's side rounds them.
type event struct {
	Type           string   `json:"type"`
	IdempotencyKey string   `json:"idempotencyKey,omitempty"`
	PartnerCode    string   `json:"partnerCode"`
	Environment    string   `json:"environment"`
	PlayerID       string   `json:"playerId"`
	Payment        *payment `json:"payment,omitempty"`
	Items          []item   `json:"items,omitempty"`
	Reason         string   `json:"reason,omitempty"` // reverse: REFUND or CHARGEBACK
	Lookup         *lookup  `json:"lookup,omitempty"`
}

type payment struct {
	Reference        string `json:"reference"`
	PartnerReference string `json:"partnerReference"`
	Status           string `json:"status"`
	Amount           string `json:"amount"`
	CurrencyCode     string `json:"currencyCode"`
	CountryCode      string `json:"countryCode"`
	CustomerID       int64  `json:"customerId"`
	PaymentMethod    string `json:"paymentMethod"`
}

type item struct {
	SKU                 string `json:"sku"`
	Name                string `json:"name"`
	Quantity            int64  `json:"quantity"`
	DigitalCurrencyCode string `json:"digitalCurrencyCode,omitempty"`
	DigitalCurrencyName string `json:"digitalCurrencyName,omitempty"`
	DigitalAmount       string `json:"digitalAmount,omitempty"`
}

type lookup struct {
	ProductBundleID   int64  `json:"productBundleId"`
	SKU               string `json:"sku"`
	ExternalReference string `json:"externalReference"`
	Amount            string `json:"amount,omitempty"`
	CurrencyCode      string `json:"currencyCode"`
	CountryCode       string `json:"countryCode"`
	Quantity          int64  `json:"quantity"`
}

func paymentOf(p sdk.Payment) *payment {
	return &payment{
		Reference: p.Reference, PartnerReference: p.PartnerReference, Status: p.Status,
		Amount: p.Amount.String(), CurrencyCode: p.CurrencyCode, CountryCode: p.CountryCode,
		CustomerID: p.CustomerID, PaymentMethod: p.PaymentMethod,
	}
}

func itemsOf(in []sdk.Item) []item {
	out := make([]item, 0, len(in))
	for _, it := range in {
		i := item{
			SKU: it.SKU, Name: it.Name, Quantity: it.Quantity,
			DigitalCurrencyCode: it.DigitalCurrencyCode, DigitalCurrencyName: it.DigitalCurrencyName,
		}
		if it.DigitalAmount.Valid {
			i.DigitalAmount = it.DigitalAmount.Decimal.String()
		}
		out = append(out, i)
	}
	return out
}

// sign is the X-Partnerhub-Signature of body sent at ts: lowercase hex of
// HMAC-SHA256(secret, ts + "." + body), ts being the X-Partnerhub-Timestamp
// header (Unix seconds) exactly as sent.
func sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func timestamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// answer is what the backend may put in a response body. Every field is
// optional.
type answer struct {
	Reference string `json:"reference"`
	Reason    string `json:"reason"`
	// LookupUser only.
	Found             *bool  `json:"found"`
	UserID            string `json:"userId"`
	ExternalReference string `json:"externalReference"`
	Amount            string `json:"amount"`
	CurrencyCode      string `json:"currencyCode"`
	ErrorCode         string `json:"errorCode"`
	ErrorMessage      string `json:"errorMessage"`
}

// parseAnswer reads a response body: JSON if it is JSON, otherwise the
// text is the reason.
func parseAnswer(body []byte) answer {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return answer{Reason: string(body)}
	}
	return a
}

// clean makes text from the backend safe to store and show: printable,
// one line, at most maxReasonLength bytes of valid UTF-8.
func clean(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			if b.Len()+1 > maxReasonLength {
				break
			}
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > maxReasonLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
