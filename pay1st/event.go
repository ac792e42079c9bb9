package pay1st

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// MaxStringBytes bounds every string field of a Payment Webhook Event, in
// bytes of UTF-8 once JSON escapes are decoded. Pay1st documents no limits;
// 512 is far above any real value and keeps a hostile body from filling rows.
const MaxStringBytes = 512

// Limits of amounts, chosen to fit a numeric(23,8) column exactly.
const (
	MaxAmountIntegerDigits  = 15
	MaxAmountFractionDigits = 8
)

// ErrMalformed means the body is not one well-formed JSON object: invalid
// JSON, another top-level type, trailing data, a duplicate member name or
// nesting deeper than MaxNestingDepth. It is always wrapped with detail.
var ErrMalformed = errors.New("pay1st: malformed JSON")

// FieldError reports the first invalid field of an event: missing, null, of
// the wrong JSON type, or with a value the protocol does not allow.
type FieldError struct {
	Field   string // the JSON member name, e.g. "orderAmount"
	Problem string // human-readable, e.g. "is missing"
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("pay1st: field %q %s", e.Field, e.Problem)
}

// PaymentEvent is a Payment Webhook Event (protocol §1). Every field is
// mandatory. Dates are in UTC.
type PaymentEvent struct {
	PartnerID         int64           `json:"partnerId"`
	PartnerCode       string          `json:"partnerCode"`
	PartnerReference  string          `json:"partnerReference"`
	Reference         string          `json:"reference"`
	OrderAmount       decimal.Decimal `json:"orderAmount"`
	CurrencyCode      string          `json:"currencyCode"`
	CountryCode       string          `json:"countryCode"`
	Source            string          `json:"source"`
	Platform          string          `json:"platform"`
	IPAddress         string          `json:"ipAddress"`
	CreatedDate       time.Time       `json:"createdDate"`
	UpdatedDate       time.Time       `json:"updatedDate"`
	Status            Status          `json:"status"`
	Message           string          `json:"message"`
	StatusCode        int64           `json:"statusCode"`
	CustomerID        int64           `json:"customerId"`
	PaymentMethod     string          `json:"paymentMethod"`
	TaxPercentage     decimal.Decimal `json:"taxPercentage"`
	PartnerWebhookURL string          `json:"partnerWebhookUrl"`
}

// ParsePaymentEvent decodes and validates a Payment Webhook Event body.
//
// It fails with an error wrapping ErrMalformed if body is not one JSON
// object, or with a *FieldError for the first invalid field in the
// protocol's field order. Unknown members are ignored (keep the raw body if
// they matter). The body's size is not limited here: bound it before.
//
// Rules, beyond "present and not null":
//   - strings: valid UTF-8 (unpaired surrogate escapes are not), no control
//     characters (Unicode Cc, so no tab or newline either), at most
//     MaxStringBytes; partnerCode, partnerReference, reference and status
//     non-empty; currencyCode three and countryCode two upper-case ASCII
//     letters (the shape only, not the ISO list); status one of Statuses.
//   - numbers are read from the literal text, never through float64, and
//     must be JSON numbers (not strings). orderAmount ≥ 0 with at most
//     MaxAmountIntegerDigits integer and MaxAmountFractionDigits fraction
//     digits, counted on the value (1.50 has one fraction digit, 1e2 three
//     integer digits); taxPercentage in 0..100 with at most 8 fraction
//     digits; partnerId > 0; statusCode and customerId ≥ 0. The three
//     integers must be plain integer literals fitting int64: 1.0 and 1e2 are
//     rejected.
//   - createdDate and updatedDate: see ParseTime.
func ParsePaymentEvent(body []byte) (PaymentEvent, error) {
	members, err := decodeObject(body)
	if err != nil {
		return PaymentEvent{}, err
	}
	var e PaymentEvent
	for _, f := range eventFields {
		raw, ok := members[f.name]
		if !ok {
			return PaymentEvent{}, &FieldError{Field: f.name, Problem: "is missing"}
		}
		if bytes.Equal(raw, []byte("null")) {
			return PaymentEvent{}, &FieldError{Field: f.name, Problem: "must not be null"}
		}
		if problem := f.decode(raw, &e); problem != "" {
			return PaymentEvent{}, &FieldError{Field: f.name, Problem: problem}
		}
		if problem := f.check(&e); problem != "" {
			return PaymentEvent{}, &FieldError{Field: f.name, Problem: problem}
		}
	}
	return e, nil
}

// Validate applies ParsePaymentEvent's value rules to an event built in Go
// (a test, the simulator) and returns the first *FieldError, or nil. A zero
// date fails, as it is before 1970.
func (e PaymentEvent) Validate() error {
	for _, f := range eventFields {
		if problem := f.check(&e); problem != "" {
			return &FieldError{Field: f.name, Problem: problem}
		}
	}
	return nil
}

// MarshalJSON writes the event in the wire format ParsePaymentEvent reads:
// members in protocol order, amounts as bare JSON numbers (exact, no
// quotes), dates as RFC 3339 in UTC with up to nanoseconds. It does not
// validate, so tests can produce invalid events on purpose.
func (e PaymentEvent) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireEvent{
		PartnerID:         e.PartnerID,
		PartnerCode:       e.PartnerCode,
		PartnerReference:  e.PartnerReference,
		Reference:         e.Reference,
		OrderAmount:       json.Number(shapeOfDecimal(e.OrderAmount).String()),
		CurrencyCode:      e.CurrencyCode,
		CountryCode:       e.CountryCode,
		Source:            e.Source,
		Platform:          e.Platform,
		IPAddress:         e.IPAddress,
		CreatedDate:       e.CreatedDate.UTC().Format(time.RFC3339Nano),
		UpdatedDate:       e.UpdatedDate.UTC().Format(time.RFC3339Nano),
		Status:            e.Status,
		Message:           e.Message,
		StatusCode:        e.StatusCode,
		CustomerID:        e.CustomerID,
		PaymentMethod:     e.PaymentMethod,
		TaxPercentage:     json.Number(shapeOfDecimal(e.TaxPercentage).String()),
		PartnerWebhookURL: e.PartnerWebhookURL,
	})
}

// UnmarshalJSON is ParsePaymentEvent, so that decoding an event with
// encoding/json (as part of a larger document, say) cannot skip validation.
// JSON null leaves the event unchanged, as encoding/json expects.
func (e *PaymentEvent) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.Trim(data, jsonWhitespace), []byte("null")) {
		return nil
	}
	parsed, err := ParsePaymentEvent(data)
	if err != nil {
		return err
	}
	*e = parsed
	return nil
}

// wireEvent fixes the member order and the representation of amounts and
// dates without touching decimal's package-level settings.
type wireEvent struct {
	PartnerID         int64       `json:"partnerId"`
	PartnerCode       string      `json:"partnerCode"`
	PartnerReference  string      `json:"partnerReference"`
	Reference         string      `json:"reference"`
	OrderAmount       json.Number `json:"orderAmount"`
	CurrencyCode      string      `json:"currencyCode"`
	CountryCode       string      `json:"countryCode"`
	Source            string      `json:"source"`
	Platform          string      `json:"platform"`
	IPAddress         string      `json:"ipAddress"`
	CreatedDate       string      `json:"createdDate"`
	UpdatedDate       string      `json:"updatedDate"`
	Status            Status      `json:"status"`
	Message           string      `json:"message"`
	StatusCode        int64       `json:"statusCode"`
	CustomerID        int64       `json:"customerId"`
	PaymentMethod     string      `json:"paymentMethod"`
	TaxPercentage     json.Number `json:"taxPercentage"`
	PartnerWebhookURL string      `json:"partnerWebhookUrl"`
}

// eventField is one row of the protocol table. decode turns a present,
// non-null raw value into the Go field (type errors); check validates the Go
// value (value errors) and is shared with Validate, so parsed and built
// events obey the same rules. Both return a problem, "" when fine.
type eventField struct {
	name   string
	decode func(raw []byte, e *PaymentEvent) string
	check  func(e *PaymentEvent) string
}

// eventFields is in the protocol table's order, which makes the reported
// problem deterministic.
var eventFields = []eventField{
	intField("partnerId", func(e *PaymentEvent) *int64 { return &e.PartnerID }, 1),
	stringField("partnerCode", func(e *PaymentEvent) *string { return &e.PartnerCode }, nonEmpty),
	stringField("partnerReference", func(e *PaymentEvent) *string { return &e.PartnerReference }, nonEmpty),
	stringField("reference", func(e *PaymentEvent) *string { return &e.Reference }, nonEmpty),
	decimalField("orderAmount", func(e *PaymentEvent) *decimal.Decimal { return &e.OrderAmount }, amountRule),
	stringField("currencyCode", func(e *PaymentEvent) *string { return &e.CurrencyCode }, upperLetters(3)),
	stringField("countryCode", func(e *PaymentEvent) *string { return &e.CountryCode }, upperLetters(2)),
	stringField("source", func(e *PaymentEvent) *string { return &e.Source }, nil),
	stringField("platform", func(e *PaymentEvent) *string { return &e.Platform }, nil),
	stringField("ipAddress", func(e *PaymentEvent) *string { return &e.IPAddress }, nil),
	timeField("createdDate", func(e *PaymentEvent) *time.Time { return &e.CreatedDate }),
	timeField("updatedDate", func(e *PaymentEvent) *time.Time { return &e.UpdatedDate }),
	stringField("status", func(e *PaymentEvent) *string { return (*string)(&e.Status) }, validStatus),
	stringField("message", func(e *PaymentEvent) *string { return &e.Message }, nil),
	intField("statusCode", func(e *PaymentEvent) *int64 { return &e.StatusCode }, 0),
	intField("customerId", func(e *PaymentEvent) *int64 { return &e.CustomerID }, 0),
	stringField("paymentMethod", func(e *PaymentEvent) *string { return &e.PaymentMethod }, nil),
	decimalField("taxPercentage", func(e *PaymentEvent) *decimal.Decimal { return &e.TaxPercentage }, taxRule),
	stringField("partnerWebhookUrl", func(e *PaymentEvent) *string { return &e.PartnerWebhookURL }, nil),
}

func stringField(name string, field func(*PaymentEvent) *string, rule func(string) string) eventField {
	return eventField{
		name: name,
		decode: func(raw []byte, e *PaymentEvent) string {
			s, problem := unquote(raw)
			if problem != "" {
				return problem
			}
			*field(e) = s
			return ""
		},
		check: func(e *PaymentEvent) string {
			s := *field(e)
			if problem := checkString(s); problem != "" || rule == nil {
				return problem
			}
			return rule(s)
		},
	}
}

// checkString holds the rules common to every string field.
func checkString(s string) string {
	if len(s) > MaxStringBytes {
		return fmt.Sprintf("is longer than %d bytes", MaxStringBytes)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains control character %U", r)
		}
	}
	return ""
}

func nonEmpty(s string) string {
	if s == "" {
		return "must not be empty"
	}
	return ""
}

func upperLetters(n int) func(string) string {
	return func(s string) string {
		ok := len(s) == n
		for i := 0; ok && i < n; i++ {
			ok = 'A' <= s[i] && s[i] <= 'Z'
		}
		if !ok {
			return fmt.Sprintf("must be %d upper-case letters A-Z, got %q", n, s)
		}
		return ""
	}
}

func validStatus(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if !Status(s).Valid() {
		return fmt.Sprintf("is not a known status: %q", s)
	}
	return ""
}

// intField reads a plain integer literal into an int64 at least min.
func intField(name string, field func(*PaymentEvent) *int64, min int64) eventField {
	return eventField{
		name: name,
		decode: func(raw []byte, e *PaymentEvent) string {
			if kind := rawKind(raw); kind != "number" {
				return "must be a JSON number, got " + kind
			}
			if bytes.ContainsAny(raw, ".eE") {
				return "must be an integer, without fraction or exponent"
			}
			v, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return "is out of range for a 64-bit integer"
			}
			*field(e) = v
			return ""
		},
		check: func(e *PaymentEvent) string {
			if v := *field(e); v < min {
				return fmt.Sprintf("must be at least %d, got %d", min, v)
			}
			return ""
		},
	}
}

// decimalRule bounds a decimal; checked on its shape, so hostile literals
// are refused before a big number is ever built.
type decimalRule struct {
	maxIntDigits  int64
	maxFracDigits int64
	max           decimal.Decimal // inclusive, when hasMax
	hasMax        bool
}

var (
	amountRule = decimalRule{maxIntDigits: MaxAmountIntegerDigits, maxFracDigits: MaxAmountFractionDigits}
	taxRule    = decimalRule{maxIntDigits: 3, maxFracDigits: 8, max: decimal.NewFromInt(100), hasMax: true}
)

func (r decimalRule) check(s decimalShape) string {
	switch {
	case s.neg:
		return "must not be negative"
	case s.intDigits() > r.maxIntDigits && r.hasMax:
		return "must be at most " + r.max.String()
	case s.intDigits() > r.maxIntDigits:
		return fmt.Sprintf("has more than %d integer digits", r.maxIntDigits)
	case s.fracDigits() > r.maxFracDigits:
		return fmt.Sprintf("has more than %d fraction digits", r.maxFracDigits)
	case r.hasMax && s.decimal().GreaterThan(r.max):
		return "must be at most " + r.max.String()
	}
	return ""
}

func decimalField(name string, field func(*PaymentEvent) *decimal.Decimal, rule decimalRule) eventField {
	return eventField{
		name: name,
		decode: func(raw []byte, e *PaymentEvent) string {
			shape, ok := shapeOfLiteral(raw)
			if !ok {
				return "must be a JSON number, got " + rawKind(raw)
			}
			if problem := rule.check(shape); problem != "" {
				return problem
			}
			*field(e) = shape.decimal()
			return ""
		},
		check: func(e *PaymentEvent) string {
			return rule.check(shapeOfDecimal(*field(e)))
		},
	}
}

func timeField(name string, field func(*PaymentEvent) *time.Time) eventField {
	return eventField{
		name: name,
		decode: func(raw []byte, e *PaymentEvent) string {
			s, problem := unquote(raw)
			if problem == "" {
				problem = checkString(s) // also bounds the value quoted below
			}
			if problem != "" {
				return problem
			}
			t, err := ParseTime(s)
			if err != nil {
				return "is not an accepted date-time: " + err.Error()
			}
			*field(e) = t
			return ""
		},
		check: func(e *PaymentEvent) string {
			if t := *field(e); t.Before(minTime) || t.After(maxTime) {
				return fmt.Sprintf("must lie in %d..%d", minTime.Year(), maxTime.Year())
			}
			return ""
		},
	}
}
