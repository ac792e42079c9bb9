package pay1st

import "bytes"

// stateRequired are the members a payment query answer must carry: enough
// to identify the payment, order its states and check its money.
var stateRequired = map[string]bool{
	"reference": true, "partnerReference": true, "orderAmount": true,
	"currencyCode": true, "updatedDate": true, "status": true,
}

// ParsePaymentState reads Pay1st's answer to a payment query as a
// PaymentEvent. Pay1st does not document that answer; we read it as the
// Payment Webhook Event it describes (§1), more leniently: reference,
// partnerReference, orderAmount (or amount, the Create Payment answer's
// name), currencyCode, updatedDate and status are required; the others may
// be missing or null and are then zero. Every member present obeys
// ParsePaymentEvent's rules, and the result is a value the payment state
// machine accepts like a webhook's.
func ParsePaymentState(body []byte) (PaymentEvent, error) {
	members, err := decodeObject(body)
	if err != nil {
		return PaymentEvent{}, err
	}
	if _, ok := members["orderAmount"]; !ok {
		if amount, ok := members["amount"]; ok {
			members["orderAmount"] = amount
		}
	}
	var e PaymentEvent
	for _, f := range eventFields {
		raw, ok := members[f.name]
		if !ok || bytes.Equal(raw, []byte("null")) {
			if stateRequired[f.name] {
				return PaymentEvent{}, &FieldError{Field: f.name, Problem: "is missing"}
			}
			continue
		}
		if problem := f.decode(raw, &e); problem != "" {
			return PaymentEvent{}, &FieldError{Field: f.name, Problem: problem}
		}
		if problem := f.check(&e); problem != "" {
			return PaymentEvent{}, &FieldError{Field: f.name, Problem: problem}
		}
	}
	if e.CreatedDate.IsZero() {
		e.CreatedDate = e.UpdatedDate
	}
	return e, nil
}
