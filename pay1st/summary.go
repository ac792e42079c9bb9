package pay1st

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/shopspring/decimal"
)

// Limits of the Summary Webhook's fields beyond MaxStringBytes.
const (
	// MaxPlayerIDBytes bounds playerId here and in the User Info Webhook.
	MaxPlayerIDBytes = 128
	// MaxDigitalCurrencyNameBytes matches the catalog's bundle column.
	MaxDigitalCurrencyNameBytes = 100
)

// digitalCurrencyCode is the shape the catalog accepts for a bundle's
// digital currency code.
var digitalCurrencyCode = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// DigitalCurrency is the in-game currency a Shop purchase credits.
type DigitalCurrency struct {
	Name string `json:"name"`
	Code string `json:"code"`
}

// Summary is a Summary Webhook body (protocol §4): a completed Shop payment
// whose player must be credited. Currency is the payment's ISO 4217 code;
// the protocol names it currency, not currencyCode.
type Summary struct {
	Reference       string
	PlayerID        string
	ProductBundleID int64
	Amount          decimal.Decimal
	Currency        string
	TokensPurchased decimal.Decimal
	DigitalCurrency DigitalCurrency
	Status          Status
	// Optional: empty when absent or null.
	ExternalReference string
	PaymentMethod     string
}

// ParseSummary decodes and validates a Summary Webhook body.
//
// It fails with an error wrapping ErrMalformed if body is not one JSON
// object (see ParsePaymentEvent for what that covers), or with a
// *FieldError naming the first invalid field in the documented example's
// order (a nested one as "digitalCurrency.code"). Unknown members are
// ignored; keep the raw body if they matter. Bound the body's size before.
//
// Rules: reference, playerId, productBundleId, amount, currency,
// tokensPurchased, digitalCurrency and status are mandatory and not null;
// externalReference and paymentMethod are optional (null counts as absent).
// Strings follow ParsePaymentEvent's rules (valid UTF-8, no control
// characters, at most MaxStringBytes); reference non-empty; playerId
// non-empty and at most MaxPlayerIDBytes; currency three upper-case
// letters; status one of Statuses. productBundleId is a plain integer
// literal > 0. amount ≥ 0 and tokensPurchased > 0 are JSON numbers read
// exactly from the literal, with the limits of orderAmount.
// digitalCurrency is an object with a non-empty name (at most
// MaxDigitalCurrencyNameBytes) and a code of 1-32 characters A-Z a-z 0-9
// . _ - (the catalog's shape).
func ParseSummary(body []byte) (Summary, error) {
	members, err := decodeObject(body)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	for _, f := range summaryFields {
		raw, ok := members[f.name]
		isNull := ok && bytes.Equal(raw, []byte("null"))
		switch {
		case (!ok || isNull) && f.optional:
			continue
		case !ok:
			return Summary{}, &FieldError{Field: f.name, Problem: "is missing"}
		case isNull:
			return Summary{}, &FieldError{Field: f.name, Problem: "must not be null"}
		}
		if err := f.decode(raw, &s); err != nil {
			return Summary{}, err
		}
	}
	return s, nil
}

// summaryField decodes one member; it returns a *FieldError (or an error
// wrapping ErrMalformed for a nested object) or nil.
type summaryField struct {
	name     string
	optional bool
	decode   func(raw []byte, s *Summary) error
}

var summaryFields = []summaryField{
	summaryString("reference", false, func(s *Summary) *string { return &s.Reference }, nonEmpty),
	summaryString("playerId", false, func(s *Summary) *string { return &s.PlayerID }, playerIDRule),
	{name: "productBundleId", decode: func(raw []byte, s *Summary) error {
		v, problem := positiveInt(raw)
		if problem != "" {
			return &FieldError{Field: "productBundleId", Problem: problem}
		}
		s.ProductBundleID = v
		return nil
	}},
	summaryDecimal("amount", func(s *Summary) *decimal.Decimal { return &s.Amount }, false),
	summaryString("currency", false, func(s *Summary) *string { return &s.Currency }, upperLetters(3)),
	summaryDecimal("tokensPurchased", func(s *Summary) *decimal.Decimal { return &s.TokensPurchased }, true),
	{name: "digitalCurrency", decode: decodeDigitalCurrency},
	summaryString("status", false, func(s *Summary) *string { return (*string)(&s.Status) }, validStatus),
	summaryString("externalReference", true, func(s *Summary) *string { return &s.ExternalReference }, nil),
	summaryString("paymentMethod", true, func(s *Summary) *string { return &s.PaymentMethod }, nil),
}

// playerIDRule is the rule of a player id, shared with the User Info
// Webhook's query parameter.
func playerIDRule(v string) string {
	if v == "" {
		return "must not be empty"
	}
	if len(v) > MaxPlayerIDBytes {
		return fmt.Sprintf("is longer than %d bytes", MaxPlayerIDBytes)
	}
	return ""
}

// CheckPlayerID returns why v cannot be a player id, or "".
func CheckPlayerID(v string) string {
	if problem := checkString(v); problem != "" {
		return problem
	}
	return playerIDRule(v)
}

func summaryString(name string, optional bool, field func(*Summary) *string, rule func(string) string) summaryField {
	return summaryField{name: name, optional: optional, decode: func(raw []byte, s *Summary) error {
		v, problem := unquote(raw)
		if problem == "" {
			problem = checkString(v)
		}
		if problem == "" && rule != nil {
			problem = rule(v)
		}
		if problem != "" {
			return &FieldError{Field: name, Problem: problem}
		}
		*field(s) = v
		return nil
	}}
}

func summaryDecimal(name string, field func(*Summary) *decimal.Decimal, positive bool) summaryField {
	return summaryField{name: name, decode: func(raw []byte, s *Summary) error {
		shape, ok := shapeOfLiteral(raw)
		if !ok {
			return &FieldError{Field: name, Problem: "must be a JSON number, got " + rawKind(raw)}
		}
		if problem := amountRule.check(shape); problem != "" {
			return &FieldError{Field: name, Problem: problem}
		}
		d := shape.decimal()
		if positive && !d.IsPositive() {
			return &FieldError{Field: name, Problem: "must be greater than 0"}
		}
		*field(s) = d
		return nil
	}}
}

// positiveInt reads a plain integer literal > 0 that fits an int64.
func positiveInt(raw []byte) (int64, string) {
	if kind := rawKind(raw); kind != "number" {
		return 0, "must be a JSON number, got " + kind
	}
	if bytes.ContainsAny(raw, ".eE") {
		return 0, "must be an integer, without fraction or exponent"
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, "is out of range for a 64-bit integer"
	}
	if v < 1 {
		return 0, fmt.Sprintf("must be at least 1, got %d", v)
	}
	return v, ""
}

func decodeDigitalCurrency(raw []byte, s *Summary) error {
	const name = "digitalCurrency"
	if kind := rawKind(raw); kind != "object" {
		return &FieldError{Field: name, Problem: "must be a JSON object, got " + kind}
	}
	members, err := decodeObject(raw)
	if err != nil {
		// The whole body parsed, so only a duplicate member gets here.
		return fmt.Errorf("%w (in %s)", err, name)
	}
	get := func(member string, rule func(string) string) (string, error) {
		field := name + "." + member
		raw, ok := members[member]
		if !ok {
			return "", &FieldError{Field: field, Problem: "is missing"}
		}
		if bytes.Equal(raw, []byte("null")) {
			return "", &FieldError{Field: field, Problem: "must not be null"}
		}
		v, problem := unquote(raw)
		if problem == "" {
			problem = checkString(v)
		}
		if problem == "" {
			problem = rule(v)
		}
		if problem != "" {
			return "", &FieldError{Field: field, Problem: problem}
		}
		return v, nil
	}
	var dc DigitalCurrency
	if dc.Name, err = get("name", func(v string) string {
		if v == "" {
			return "must not be empty"
		}
		if len(v) > MaxDigitalCurrencyNameBytes {
			return fmt.Sprintf("is longer than %d bytes", MaxDigitalCurrencyNameBytes)
		}
		return ""
	}); err != nil {
		return err
	}
	if dc.Code, err = get("code", func(v string) string {
		if !digitalCurrencyCode.MatchString(v) {
			return "must be 1-32 characters A-Z a-z 0-9 . _ -"
		}
		return ""
	}); err != nil {
		return err
	}
	s.DigitalCurrency = dc
	return nil
}

// MarshalJSON writes the summary in the wire format ParseSummary reads, with
// exact amounts; tests and the simulator use it. It does not validate.
func (s Summary) MarshalJSON() ([]byte, error) {
	type wire struct {
		Reference         string          `json:"reference"`
		PlayerID          string          `json:"playerId"`
		ProductBundleID   int64           `json:"productBundleId"`
		Amount            json.Number     `json:"amount"`
		Currency          string          `json:"currency"`
		TokensPurchased   json.Number     `json:"tokensPurchased"`
		DigitalCurrency   DigitalCurrency `json:"digitalCurrency"`
		Status            Status          `json:"status"`
		ExternalReference string          `json:"externalReference,omitempty"`
		PaymentMethod     string          `json:"paymentMethod,omitempty"`
	}
	return json.Marshal(wire{
		Reference: s.Reference, PlayerID: s.PlayerID, ProductBundleID: s.ProductBundleID,
		Amount: json.Number(shapeOfDecimal(s.Amount).String()), Currency: s.Currency,
		TokensPurchased: json.Number(shapeOfDecimal(s.TokensPurchased).String()),
		DigitalCurrency: s.DigitalCurrency, Status: s.Status,
		ExternalReference: s.ExternalReference, PaymentMethod: s.PaymentMethod,
	})
}

// CheckText returns why v cannot be a text parameter of at most max bytes
// (invalid UTF-8, a control character, too long), or "". The User Info
// Webhook's query parameters follow the body fields' rules with it.
func CheckText(v string, max int) string {
	if len(v) > max {
		return fmt.Sprintf("is longer than %d bytes", max)
	}
	return checkString(v)
}

// ParseAmount reads an amount written as a JSON number literal (a query
// parameter, say) exactly, with orderAmount's rules: not negative, at most
// MaxAmountIntegerDigits integer and MaxAmountFractionDigits fraction
// digits. It returns the problem, "" when fine.
func ParseAmount(v string) (decimal.Decimal, string) {
	shape, ok := shapeOfLiteral([]byte(v))
	if !ok {
		return decimal.Decimal{}, "must be a decimal number like 1000 or 10.50"
	}
	if problem := amountRule.check(shape); problem != "" {
		return decimal.Decimal{}, problem
	}
	return shape.decimal(), ""
}
