package sdk

import (
	"fmt"
	"regexp"

	"github.com/shopspring/decimal"

	pb "github.com/partnerhub/partnerhub/plugins/proto/pluginv1"
)

// maxDecimalLen bounds decimal strings on the wire; no real amount comes near.
const maxDecimalLen = 64

// decimalSyntax accepts plain decimals only. Exponents ("1e9999999") are
// refused: they are not money, and formatting one could exhaust memory.
var decimalSyntax = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// parseDecimal parses a required money field.
func parseDecimal(field, s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Decimal{}, fmt.Errorf("%w: %s is missing", ErrInvalidMessage, field)
	}
	if len(s) > maxDecimalLen || !decimalSyntax.MatchString(s) {
		return decimal.Decimal{}, fmt.Errorf("%w: %s %q is not a decimal", ErrInvalidMessage, field, truncate(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s %q: %w", ErrInvalidMessage, field, s, err)
	}
	return d, nil
}

// parseNullDecimal parses an optional money field; empty means absent.
func parseNullDecimal(field, s string) (decimal.NullDecimal, error) {
	if s == "" {
		return decimal.NullDecimal{}, nil
	}
	d, err := parseDecimal(field, s)
	if err != nil {
		return decimal.NullDecimal{}, err
	}
	return decimal.NullDecimal{Decimal: d, Valid: true}, nil
}

func nullDecimalString(n decimal.NullDecimal) string {
	if !n.Valid {
		return ""
	}
	return n.Decimal.String()
}

func truncate(s string) string {
	if len(s) > maxDecimalLen {
		return s[:maxDecimalLen] + "…"
	}
	return s
}

func outcomeToWire(o Outcome) (pb.Outcome, error) {
	switch o {
	case OutcomeFulfilled:
		return pb.Outcome_OUTCOME_FULFILLED, nil
	case OutcomeRejected:
		return pb.Outcome_OUTCOME_REJECTED, nil
	case OutcomeRetry:
		return pb.Outcome_OUTCOME_RETRY, nil
	}
	return pb.Outcome_OUTCOME_UNSPECIFIED, fmt.Errorf("%w: outcome %q", ErrInvalidMessage, string(o))
}

func outcomeFromWire(o pb.Outcome) (Outcome, error) {
	switch o {
	case pb.Outcome_OUTCOME_FULFILLED:
		return OutcomeFulfilled, nil
	case pb.Outcome_OUTCOME_REJECTED:
		return OutcomeRejected, nil
	case pb.Outcome_OUTCOME_RETRY:
		return OutcomeRetry, nil
	case pb.Outcome_OUTCOME_UNSPECIFIED:
	}
	return "", fmt.Errorf("%w: outcome %v", ErrInvalidMessage, o)
}

func descriptionToWire(d Description) *pb.DescribeResponse {
	caps := make([]string, len(d.Capabilities))
	for i, c := range d.Capabilities {
		caps[i] = string(c)
	}
	return &pb.DescribeResponse{
		Name:            d.Name,
		Version:         d.Version,
		ProtocolVersion: d.ProtocolVersion,
		Capabilities:    caps,
	}
}

func descriptionFromWire(m *pb.DescribeResponse) Description {
	var caps []Capability
	for _, c := range m.GetCapabilities() {
		caps = append(caps, Capability(c))
	}
	return Description{
		Name:            m.GetName(),
		Version:         m.GetVersion(),
		ProtocolVersion: m.GetProtocolVersion(),
		Capabilities:    caps,
	}
}

func configureToWire(r ConfigureRequest) *pb.ConfigureRequest {
	return &pb.ConfigureRequest{Settings: r.Settings, PartnerCode: r.PartnerCode, Environment: r.Environment}
}

func configureFromWire(m *pb.ConfigureRequest) ConfigureRequest {
	return ConfigureRequest{Settings: m.GetSettings(), PartnerCode: m.GetPartnerCode(), Environment: m.GetEnvironment()}
}

func lookupRequestToWire(r LookupUserRequest) *pb.LookupUserRequest {
	return &pb.LookupUserRequest{
		PlayerId:          r.PlayerID,
		ProductBundleId:   r.ProductBundleID,
		Sku:               r.SKU,
		ExternalReference: r.ExternalReference,
		Amount:            nullDecimalString(r.Amount),
		CurrencyCode:      r.CurrencyCode,
		CountryCode:       r.CountryCode,
		Quantity:          r.Quantity,
	}
}

func lookupRequestFromWire(m *pb.LookupUserRequest) (LookupUserRequest, error) {
	amount, err := parseNullDecimal("amount", m.GetAmount())
	if err != nil {
		return LookupUserRequest{}, err
	}
	return LookupUserRequest{
		PlayerID:          m.GetPlayerId(),
		ProductBundleID:   m.GetProductBundleId(),
		SKU:               m.GetSku(),
		ExternalReference: m.GetExternalReference(),
		Amount:            amount,
		CurrencyCode:      m.GetCurrencyCode(),
		CountryCode:       m.GetCountryCode(),
		Quantity:          m.GetQuantity(),
	}, nil
}

func lookupResponseToWire(r LookupUserResponse) *pb.LookupUserResponse {
	return &pb.LookupUserResponse{
		Found:             r.Found,
		UserId:            r.UserID,
		ExternalReference: r.ExternalReference,
		Amount:            nullDecimalString(r.Amount),
		CurrencyCode:      r.CurrencyCode,
		ErrorCode:         r.ErrorCode,
		ErrorMessage:      r.ErrorMessage,
	}
}

func lookupResponseFromWire(m *pb.LookupUserResponse) (LookupUserResponse, error) {
	amount, err := parseNullDecimal("amount", m.GetAmount())
	if err != nil {
		return LookupUserResponse{}, err
	}
	return LookupUserResponse{
		Found:             m.GetFound(),
		UserID:            m.GetUserId(),
		ExternalReference: m.GetExternalReference(),
		Amount:            amount,
		CurrencyCode:      m.GetCurrencyCode(),
		ErrorCode:         m.GetErrorCode(),
		ErrorMessage:      m.GetErrorMessage(),
	}, nil
}

func paymentToWire(p Payment) *pb.Payment {
	return &pb.Payment{
		Reference:        p.Reference,
		PartnerReference: p.PartnerReference,
		Status:           p.Status,
		Amount:           p.Amount.String(),
		CurrencyCode:     p.CurrencyCode,
		CountryCode:      p.CountryCode,
		CustomerId:       p.CustomerID,
		PaymentMethod:    p.PaymentMethod,
	}
}

func paymentFromWire(m *pb.Payment) (Payment, error) {
	if m == nil {
		return Payment{}, fmt.Errorf("%w: payment is missing", ErrInvalidMessage)
	}
	amount, err := parseDecimal("payment.amount", m.GetAmount())
	if err != nil {
		return Payment{}, err
	}
	return Payment{
		Reference:        m.GetReference(),
		PartnerReference: m.GetPartnerReference(),
		Status:           m.GetStatus(),
		Amount:           amount,
		CurrencyCode:     m.GetCurrencyCode(),
		CountryCode:      m.GetCountryCode(),
		CustomerID:       m.GetCustomerId(),
		PaymentMethod:    m.GetPaymentMethod(),
	}, nil
}

func itemsToWire(items []Item) []*pb.Item {
	out := make([]*pb.Item, len(items))
	for i, it := range items {
		out[i] = &pb.Item{
			Sku:                 it.SKU,
			Name:                it.Name,
			Quantity:            it.Quantity,
			DigitalCurrencyCode: it.DigitalCurrencyCode,
			DigitalCurrencyName: it.DigitalCurrencyName,
			DigitalAmount:       nullDecimalString(it.DigitalAmount),
		}
	}
	return out
}

func itemsFromWire(items []*pb.Item) ([]Item, error) {
	out := make([]Item, len(items))
	for i, m := range items {
		amount, err := parseNullDecimal(fmt.Sprintf("items[%d].digital_amount", i), m.GetDigitalAmount())
		if err != nil {
			return nil, err
		}
		out[i] = Item{
			SKU:                 m.GetSku(),
			Name:                m.GetName(),
			Quantity:            m.GetQuantity(),
			DigitalCurrencyCode: m.GetDigitalCurrencyCode(),
			DigitalCurrencyName: m.GetDigitalCurrencyName(),
			DigitalAmount:       amount,
		}
	}
	return out, nil
}

func fulfilToWire(r FulfilRequest) *pb.FulfilRequest {
	return &pb.FulfilRequest{
		IdempotencyKey: r.IdempotencyKey,
		PartnerCode:    r.PartnerCode,
		Environment:    r.Environment,
		Payment:        paymentToWire(r.Payment),
		PlayerId:       r.PlayerID,
		Items:          itemsToWire(r.Items),
	}
}

func fulfilFromWire(m *pb.FulfilRequest) (FulfilRequest, error) {
	payment, err := paymentFromWire(m.GetPayment())
	if err != nil {
		return FulfilRequest{}, err
	}
	items, err := itemsFromWire(m.GetItems())
	if err != nil {
		return FulfilRequest{}, err
	}
	return FulfilRequest{
		IdempotencyKey: m.GetIdempotencyKey(),
		PartnerCode:    m.GetPartnerCode(),
		Environment:    m.GetEnvironment(),
		Payment:        payment,
		PlayerID:       m.GetPlayerId(),
		Items:          items,
	}, nil
}

func reverseToWire(r ReverseRequest) *pb.ReverseRequest {
	return &pb.ReverseRequest{
		IdempotencyKey: r.IdempotencyKey,
		PartnerCode:    r.PartnerCode,
		Environment:    r.Environment,
		Payment:        paymentToWire(r.Payment),
		PlayerId:       r.PlayerID,
		Items:          itemsToWire(r.Items),
		Reason:         string(r.Reason),
	}
}

func reverseFromWire(m *pb.ReverseRequest) (ReverseRequest, error) {
	payment, err := paymentFromWire(m.GetPayment())
	if err != nil {
		return ReverseRequest{}, err
	}
	items, err := itemsFromWire(m.GetItems())
	if err != nil {
		return ReverseRequest{}, err
	}
	return ReverseRequest{
		IdempotencyKey: m.GetIdempotencyKey(),
		PartnerCode:    m.GetPartnerCode(),
		Environment:    m.GetEnvironment(),
		Payment:        payment,
		PlayerID:       m.GetPlayerId(),
		Items:          items,
		Reason:         ReverseReason(m.GetReason()),
	}, nil
}

func resultToWire(r Result) (*pb.Result, error) {
	o, err := outcomeToWire(r.Outcome)
	if err != nil {
		return nil, err
	}
	return &pb.Result{Outcome: o, Reason: r.Reason, Reference: r.Reference}, nil
}

func resultFromWire(m *pb.Result) (Result, error) {
	o, err := outcomeFromWire(m.GetOutcome())
	if err != nil {
		return Result{}, err
	}
	return Result{Outcome: o, Reason: m.GetReason(), Reference: m.GetReference()}, nil
}
